"""Replay: the control center, read-only, on a past run's recorded events.

The central test runs the demo team live in the pilot to its finished state, then
replays the recorded events of that run in a second app of the same size and checks
the two screens are the same, cell by cell and style by style (all but the bottom
row, where the replay's player bar and keys replace the live footer).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine import events as ev
from engine.cli import recorded_run
from engine.replay import EventPlayer
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    RUN_ID,
    app_for,
    interrupt_of,
    pending,
    tui_env_fixture,
    wait_until,
)
from tui.replay import ReplayCenter, make_replay_app
from tui.widgets.console_panel import ConsolePanel
from tui.widgets.interrupts_panel import InterruptsPanel
from tui.widgets.player_bar import PlayerBar

SIZE = (120, 40)


def screen_rows(app) -> list[list[tuple[str, object]]]:
    """Every row of the screen but the last, as (text, style) runs."""
    strips = app.screen._compositor.render_strips()
    return [[(seg.text, seg.style) for seg in strip.simplify()] for strip in strips[:-1]]


def text_of(rows: list[list[tuple[str, object]]]) -> str:
    return "\n".join("".join(text for text, _ in row) for row in rows)


async def settle(pilot) -> None:
    """Toasts gone, console flushed, everything drawn."""
    pilot.app.clear_notifications()
    await pilot.pause(0.2)
    await pilot.pause()


async def run_demo_live(tmp: Path) -> list[list[tuple[str, object]]]:
    """The demo team's workflow to its end (the plan auto-approved), coder selected."""
    app = app_for(None, tmp, auto_approve=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda s: s.run_status == "running")
        await pilot.press("down", "down")  # the coder's console, from the start
        await wait_until(pilot, lambda s: s.finished, timeout=60)
        await settle(pilot)
        return screen_rows(app)


_recorded_demo: list[Path] = []  # the database of the first live demo run of this module


async def recorded_demo(tmp: Path) -> None:
    """``tmp/state.db`` holding the demo's finished run: run live once per module, then
    copied (replay only reads it)."""
    if not _recorded_demo:
        await run_demo_live(tmp)
        _recorded_demo.append(tmp / "state.db")
        return
    source, copy = sqlite3.connect(_recorded_demo[0]), sqlite3.connect(tmp / "state.db")
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()


async def replay_app(tmp: Path, **kwargs) -> ReplayCenter:
    found = await recorded_run(str(tmp / "state.db"), RUN_ID)
    assert found is not None
    run, events = found
    return make_replay_app(run, events, blink_cursors=False, **kwargs)


async def test_the_screen_at_the_end_of_a_replay_is_the_live_runs_last_screen(
        tui_env: Path) -> None:
    live = await run_demo_live(tui_env)
    if not _recorded_demo:
        _recorded_demo.append(tui_env / "state.db")
    live_text = text_of(live)
    for seen in ("Run finished", "✔ done", "Hello, Ada!", "[exit 0]", "workflow → reviewer",
                 "Review task test", "Interrupts (1)", "Console · coder"):
        assert seen in live_text, seen  # the comparison below is about a full screen

    app = await replay_app(tui_env, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down")
        await settle(pilot)
        assert app.player.position == 0
        assert text_of(screen_rows(app)) != live_text
        await pilot.press("n", "n", "n")
        await settle(pilot)
        assert app.player.position == 3
        assert text_of(screen_rows(app)) != live_text
        await pilot.press("G")
        await wait_until(pilot, lambda s: app.player.at_end and s.finished)
        await settle(pilot)
        replayed = screen_rows(app)
    assert text_of(replayed) == live_text
    assert replayed == live  # the styles too: colours of statuses, banner, marks


def spaced(events: list[ev.Event], gap: float) -> list[ev.Event]:
    """The same events, ``gap`` seconds apart (the frozen clock recorded them all at once)."""
    return [e._replace(ts=e.ts + i * gap) for i, e in enumerate(events)]


async def test_pause_step_speed_and_jump_to_the_end(tui_env: Path) -> None:
    await recorded_demo(tui_env)
    found = await recorded_run(str(tui_env / "state.db"), RUN_ID)
    run, events = found
    player = EventPlayer(spaced(events, 10.0), paused=True, max_gap=0.2)
    app = ReplayCenter(player, run, blink_cursors=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert player.position == 0 and app.state.run_status == "starting"
        await pilot.press("n")
        await pilot.press("full_stop")
        await wait_until(pilot, lambda s: player.position == 2 and s.run_status == "running")
        bar = str(app.query_one(PlayerBar).render())
        assert f"event 2/{len(events)}" in bar and "paused" in bar and "×1" in bar

        await pilot.press("plus", "plus")  # ×4: an event every 0.05 s
        assert player.speed == 4.0
        await pilot.press("minus")
        assert player.speed == 2.0  # an event every 0.1 s (gaps cut to 0.2 s)
        await pilot.press("space")
        await wait_until(pilot, lambda _s: player.position >= 4)  # it plays on by itself
        await pilot.press("space")
        stopped_at = player.position
        assert stopped_at < len(events) and player.paused
        await pilot.pause(0.4)
        assert player.position == stopped_at  # paused stays paused

        await pilot.press("end")
        await wait_until(pilot, lambda s: s.finished)
        await pilot.pause()
        assert player.at_end and player.position == len(events)
        assert "event {0}/{0}".format(len(events)) in str(app.query_one(PlayerBar).render())
        assert "end" in str(app.query_one(PlayerBar).render())
        assert "Hello, Ada!" in app.consoles.of("coder").lines


async def test_keys_that_would_act_on_an_engine_are_refused(tui_env: Path) -> None:
    await recorded_demo(tui_env)
    app = await replay_app(tui_env, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("G")
        await wait_until(pilot, lambda s: s.finished)
        app.clear_notifications()
        assert app.engine is None
        panel = app.query_one(InterruptsPanel)
        assert panel.count == 1  # the writer's progress report, never acknowledged
        panel.focus()
        for key in ("enter", "m", "p", "x"):
            await pilot.press(key)
            await pilot.pause()
        refusals = [n.message for n in app._notifications]
        assert len(refusals) == 4
        assert all(text.startswith("Read-only replay:") and f"--resume {RUN_ID}" in text
                   for text in refusals)
        assert "answering i" in refusals[0] and "messaging" in refusals[1]
        assert len(app.screen_stack) == 1  # no modal opened
        assert app.query_one(InterruptsPanel).count == 1


async def test_q_leaves_a_replay_at_once_even_mid_run(tui_env: Path) -> None:
    await recorded_demo(tui_env)
    app = await replay_app(tui_env, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n", "n", "n")
        await pilot.pause()
        assert app.state.agents_still_running()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
    assert app._player_task is None


async def test_the_console_shows_the_selected_agents_lines_in_replay(tui_env: Path) -> None:
    await recorded_demo(tui_env)
    app = await replay_app(tui_env, speed=64)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda s: s.finished)
        await pilot.press("down", "down")
        await pilot.pause(0.2)
        console = app.query_one(ConsolePanel)
        assert console.agent == "coder"
        assert any("Hello, world!" in line for line in console.lines)


def record_finishing_team(tmp: Path) -> tuple[dict, list[ev.Event]]:
    """The snapshot team run to its end by the engine alone (no TUI), then read back."""
    import asyncio

    from engine.loader import load_team
    from engine.run import Engine
    from memory.store import Store
    from tests.conftest_tui import FROZEN_TS, write_team
    from tests.test_tui_snapshots import FINISHING_TEAM

    async def record() -> tuple[dict, list[ev.Event]]:
        path = write_team(tmp, FINISHING_TEAM)
        store = await Store.open(tmp / "state.db")
        engine = Engine(load_team(path), store, config_path=str(path), run_id=RUN_ID,
                        clock=lambda: FROZEN_TS, backend="local")
        await engine.start()
        await engine.wait()
        await store.close()
        return await recorded_run(str(tmp / "state.db"), RUN_ID)

    return asyncio.run(record())


def test_replay_paused_mid_run(snap_compare, tui_env: Path) -> None:
    run, events = record_finishing_team(tui_env)
    app = make_replay_app(run, events, paused=True, blink_cursors=False)

    async def run_before(pilot) -> None:
        await pilot.press(*["n"] * (len(events) // 2), "plus")
        await wait_until(pilot, lambda s: app.player.position == len(events) // 2)
        await pilot.pause(0.2)
        pilot.app.clear_notifications()

    assert snap_compare(app, terminal_size=(100, 28), run_before=run_before)


def test_the_replay_footer_shows_only_the_replays_keys(snap_compare, tui_env: Path) -> None:
    """The Interrupts panel focused at 120 columns: no Answer/Approve/Reject, and the
    player's keys up to Help all fit."""
    run, events = record_finishing_team(tui_env)
    app = make_replay_app(run, events, paused=True, blink_cursors=False)

    async def run_before(pilot) -> None:
        await pilot.press("G")
        await wait_until(pilot, lambda s: s.finished)
        pilot.app.query_one(InterruptsPanel).focus()
        await pilot.pause()
        pilot.app.clear_notifications()

    assert snap_compare(app, terminal_size=(120, 28), run_before=run_before)
