"""The attached control center is the embedded one: the same screen of the same run, the
answers of one seen by the others, detach and attach again after the run moved on."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from engine.loader import load_team
from engine.run import Engine
from engine.service.control_socket import ControlServer
from memory.store import Store
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    FROZEN_TS,
    RUN_ID,
    pending,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.app import make_app
from tui.remote_app import make_attached_app
from tui.screens.compose import ComposeScreen
from tui.screens.dialog import InterruptDialog

TEAM = {"name": "attached", "agents": [
    {"id": "asker", "type": "reviewer", "script": [
        {"tool": "run_command", "args": {"command": "printf 'compiling\\nlinking\\n'"}},
        {"tool": "ask_user", "args": {"question": "Ship greet.sh?",
                                      "options": ["ship it", "hold"]}},
        {"tool": "ask_user", "args": {"question": "And the docs?"}},
        {"tool": "finish", "args": {"summary": "shipped"}}]}]}


@pytest.fixture
def sock_dir():
    path = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def engine_factory(tmp_path: Path, sock_dir: Path, made: list[Engine]):
    path = write_team(tmp_path, TEAM)
    team = load_team(path)

    async def factory():
        store = await Store.open(tmp_path / "state.db")
        engine = Engine(team, store, config_path=str(path), run_id=RUN_ID,
                        clock=lambda: FROZEN_TS, backend="local")
        engine.control = ControlServer(engine, sock_dir)
        made.append(engine)
        return engine, store
    return factory


def console_drawn(app):
    """The asker's console lines are all on screen (the bridge flushes them in batches)."""
    def drawn(state) -> bool:
        console = app.consoles.of("asker")
        return console.total > 0 and app.bridge.visible_seen == console.total
    return drawn


async def test_an_attached_screen_equals_the_embedded_one(tui_env, sock_dir) -> None:
    made: list[Engine] = []
    embedded = make_app(engine_factory(tui_env, sock_dir, made), blink_cursors=False)
    async with embedded.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        await wait_until(pilot, console_drawn(embedded))
        await pilot.press("ctrl+d")  # the embedded one cannot leave its run going: it says so
        assert any("runs the engine itself" in n.message for n in embedded._notifications)
        assert embedded.is_running and not made[0].finished.is_set()
        embedded.clear_notifications()  # the toast of the moment; an attach comes later
        await pilot.pause()
        here = embedded.export_screenshot()
        attached = make_attached_app(made[0].control.path, blink_cursors=False)
        async with attached.run_test(size=(120, 40)) as remote:
            await wait_until(remote, pending("user_input"))
            await wait_until(remote, console_drawn(attached))
            await remote.pause()
            there = attached.export_screenshot()
            await remote.press("ctrl+d")
        assert attached.detached and not made[0].finished.is_set()
    assert "asker" in here and "linking" in here and "Ship" in here  # a screen of the run
    if there != here:  # keep both pictures for whoever looks into it
        (tui_env / "embedded.svg").write_text(here)
        (tui_env / "attached.svg").write_text(there)
    assert there == here, f"the screens differ: see {tui_env}/embedded.svg and attached.svg"


async def test_two_attached_see_each_others_answers_then_detach_and_come_back(
        tui_env, sock_dir) -> None:
    made: list[Engine] = []
    store = None
    factory = engine_factory(tui_env, sock_dir, made)
    engine, store = await factory()
    await engine.start()
    path = engine.control.path
    one = make_attached_app(path, blink_cursors=False)
    two = make_attached_app(path, blink_cursors=False)
    async with one.run_test(size=(120, 40)) as p1, two.run_test(size=(120, 40)) as p2:
        await wait_until(p1, pending("user_input"))
        await wait_until(p2, pending("user_input"))
        await p2.press("n", "enter")  # two opens the question...
        await p2.pause()
        assert isinstance(two.screen, InterruptDialog)
        await p1.press("n", "enter")
        await p1.pause()
        await p1.press("enter")  # ...one answers it: ship it
        await wait_until(p2, lambda s: "i1" not in s.interrupts)
        await p2.pause()
        assert not isinstance(two.screen, InterruptDialog)  # two's dialog closed, saying who
        said = [n.message for n in two._notifications]
        assert any("was answered from attach (pid" in m for m in said), said
        await wait_until(p2, pending("user_input"))  # the next question, live in both
        await wait_until(p1, pending("user_input"))
        await p1.press("ctrl+d")
        await p2.press("ctrl+d")
    assert one.detached and two.detached and one.return_code == 0
    await engine.answer("i2", "later")  # the run moves on while nobody is attached
    await engine.wait()  # ... and ends; a third comes back to the history
    assert engine.status == "finished" and not path.exists()
    await store.close()


async def test_attach_again_after_the_run_moved_on_shows_history_then_live(
        tui_env, sock_dir) -> None:
    made: list[Engine] = []
    engine, store = await engine_factory(tui_env, sock_dir, made)()
    await engine.start()
    path = engine.control.path
    first = make_attached_app(path, blink_cursors=False)
    async with first.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        await pilot.press("ctrl+d")
    await engine.answer("i1", "ship it")  # moved on while detached
    again = make_attached_app(path, blink_cursors=False)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: "i2" in s.interrupts)
        assert "i1" not in again.state.interrupts  # history: asked and answered
        assert [n for n in again._notifications if "waits for you" in n.message] == []
        await pilot.press("n", "enter")
        await pilot.pause()
        await pilot.press(*"the docs too", "enter")
        await wait_until(pilot, lambda s: s.finished)  # live: the run's end
        assert again.state.run_status == "finished"
        await pilot.press("m")  # the run is over: messaging is refused, no dialog
        assert not isinstance(again.screen, ComposeScreen)
        await pilot.press("q")
    assert engine.status == "finished"
    await store.close()


async def test_the_diff_screen_and_a_merge_from_an_attached_control_center(
        tui_env, sock_dir) -> None:
    from git_repos import make_repo, user_git

    from engine import events as ev
    from tests.conftest_tui import status_is
    from tui.screens.diff import DiffScreen
    from tui.screens.diff_pick import PickScreen

    make_repo(tui_env / "proj", {"README.md": "hello\n"})
    path = write_team(tui_env, {"name": "repo", "repo": "proj", "agents": [
        {"id": "coder", "script": [
            {"tool": "write_file", "args": {"path": "new.txt", "content": "new\n"}},
            {"tool": "finish", "args": {"summary": "done"}}]},
        {"id": "waiter", "script": [{"tool": "wait_for_message", "args": {"timeout": 120}}]}]})
    store = await Store.open(tui_env / "state.db")
    engine = Engine(load_team(path), store, config_path=str(path), backend="local")
    engine.control = ControlServer(engine, sock_dir)
    await engine.start()
    app = make_attached_app(engine.control.path, blink_cursors=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("coder", ev.DONE))
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        await screen.loaded.wait()
        assert {f.path for f in screen.diff.files} == {"new.txt"}
        await pilot.press("M")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "down", "enter")  # a merge commit, by the engine
        await wait_until(pilot, lambda s: (tui_env / "proj" / "new.txt").exists())
        assert len(user_git(tui_env / "proj", "log", "-1", "--format=%P").split()) == 2
        await pilot.press("ctrl+d")
    await engine.stop()
    await store.close()


async def test_q_in_an_attached_control_center_stops_the_run_after_asking(
        tui_env, sock_dir) -> None:
    from tui.screens.confirm import ConfirmScreen

    made: list[Engine] = []
    engine, store = await engine_factory(tui_env, sock_dir, made)()
    await engine.start()
    app = make_attached_app(engine.control.path, blink_cursors=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # the same question as embedded
        await pilot.press("y")
        await engine.wait()
    assert engine.status == "stopped" and not app.detached
    await store.close()


async def test_an_attached_control_center_that_ends_without_quit_leaves_the_run_going(
        tui_env, sock_dir) -> None:
    """A client that crashes or loses its terminal only detaches: one attached screen
    failing must not stop a run others watch (it stopped it 'by you')."""
    made: list[Engine] = []
    engine, store = await engine_factory(tui_env, sock_dir, made)()
    await engine.start()
    app = make_attached_app(engine.control.path, blink_cursors=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        app.exit(1)  # as an unhandled error ends a Textual app: no quit, no detach asked
        await pilot.pause()
    assert not engine.finished.is_set() and engine.status == "running"
    asked = next(i for i in engine.interrupts.pending() if i.kind == "user_input")
    await engine.answer(asked.id, "ship it")
    await engine.stop()
    await store.close()
