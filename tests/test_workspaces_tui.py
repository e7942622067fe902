"""A `repo:` team in the real TUI (pilot) and through export: the new events
(workspace, checkpoint, merged) are shown or skipped without trouble."""

from __future__ import annotations

import asyncio
from pathlib import Path

from git_repos import make_repo

from engine import events as ev
from engine.cli import main
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    RUN_ID,
    app_for,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)


async def test_a_repo_team_runs_in_the_tui_and_exports(tui_env: Path, capfd) -> None:
    make_repo(tui_env / "proj", {"README.md": "hello\n"})
    team = {"name": "repo", "repo": "proj", "agents": [{"id": "solo", "script": [
        {"tool": "write_file", "args": {"path": "x.txt", "content": "x"}},
        {"tool": "run_command", "args": {"command": "rm README.md"}},
        {"tool": "finish", "args": {"summary": "done"}}]}]}
    app = app_for(write_team(tui_env, team), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, status_is("solo", ev.DONE))
        await pilot.press("enter")  # the agent's detail screen
        await pilot.pause()
    db = ["--db", str(tui_env / "state.db")]
    assert await asyncio.to_thread(main, ["export", RUN_ID, *db]) == 0
    assert "x.txt" in capfd.readouterr().out
    assert await asyncio.to_thread(main, ["diff", RUN_ID, "solo", "--stat", *db]) == 0
    assert "2 files changed" in capfd.readouterr().out
