"""Snapshots of the diff screen (pytest-textual-snapshot) at 80x24 and 120x40: a finished
`repo:` run with an ordinary change, a file that runs on the user's machine and hostile
text; and the merge dialog.  Update with `--snapshot-update` and review the SVGs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    tui_env_fixture,
    wait_until,
)
from tests.test_diff_screen import CHANGES, repo_team
from tui.screens.diff import DiffScreen


def diff_open(tmp: Path, *keys: str):
    app = app_for(repo_team(tmp, CHANGES), tmp)

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda s: s.finished)  # its notices are out: none shows later
        await pilot.press("v")
        screen = pilot.app.screen
        assert isinstance(screen, DiffScreen)
        await screen.loaded.wait()
        pilot.app.clear_notifications()
        await pilot.press(*keys)
        await pilot.pause()

    return app, run_before


def test_diff_screen_at_80x24(snap_compare, tui_env: Path) -> None:
    app, run_before = diff_open(tui_env)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_diff_screen_at_120x40(snap_compare, tui_env: Path) -> None:
    app, run_before = diff_open(tui_env, "right_square_bracket", "down", "down")
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_diff_screen_search_at_80x24(snap_compare, tui_env: Path) -> None:
    app, run_before = diff_open(tui_env, "slash", *"markup", "enter")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_merge_dialog(snap_compare, tui_env: Path) -> None:
    app, run_before = diff_open(tui_env, "M")
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_agents_that_changed_the_same_file_are_marked(snap_compare, tui_env: Path) -> None:
    from git_repos import make_repo

    from tests.conftest_tui import write_team
    from tests.test_diff_screen import write

    make_repo(tui_env / "proj", {"README.md": "hello\n"})
    team = write_team(tui_env, {"name": "pair", "repo": "proj", "agents": [
        {"id": name, "script": [write("README.md", f"{name}\n"),
                                {"tool": "finish", "args": {"summary": "ok"}}]}
        for name in ("one", "two")]})
    app = app_for(team, tui_env)

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda s: s.finished)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
