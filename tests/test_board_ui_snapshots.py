"""Snapshots of the Board view (pytest-textual-snapshot): in place of the Agents panel at
80x24 and 120x40 and full screen at 80x24 with a plan of 30 tasks, a card's history
(the demo's `test` task: a review, a failed QA run, the fix) and a blocked task's dialog.

Deterministic like tests/test_tui_snapshots.py: the real engine and store, the local
backend, a frozen clock, a fixed run id, UTC, no cursor blink.  The board is the real
workflow: scripted agents call create_tasks, submit_task and review_task; each test
waits until the run reached its picture (and nothing moves after it: the scripts end
waiting) and the board on screen shows it.  Update with `--snapshot-update` and look at
the SVGs.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tests.test_board_ui_blocked import TEAM as BLOCKED_TEAM
from tests.test_board_ui_blocked import open_blocked
from tui.widgets.board_panel import BoardPanel
from tui.widgets.messages_panel import MessagesPanel

TITLES = ["Parse the --json flag", "Print results as JSON", "Document --json in the README",
          "Test the JSON output", "Refactor the printer", "Handle empty results",
          "Escape [bold]markup[/] and \x1b[31m colours"]
WORKERS = ("coder", "tester", "writer")


def wait(seconds: int = 86400) -> dict:
    return {"tool": "wait_for_message", "args": {"timeout": seconds}}


def plan_of_30() -> list[dict]:
    """Order 1: one task per worker, in parallel; orders 2-10 wait for them."""
    return [{"id": f"t{i:02d}", "title": TITLES[(i - 1) % len(TITLES)],
             "assignee": WORKERS[(i - 1) % 3], "order": 1 + (i - 1) // 3,
             "description": f"Part {i} of the --json flag.", "acceptance": "make test passes",
             **({"depends_on": [f"t{i - 3:02d}"]} if i > 3 and i % 4 == 0 else {})}
            for i in range(1, 31)]


#: the first three tasks run at once; the reviewer, once all three are in, approves t01
#: and asks for changes on t02; t03 stays in review; the tester starts t02 again
TEAM = {
    "name": "board",
    "defaults": {"model": "scripted"},
    "workflow": {"goal": "Add a --json flag to the CLI", "planner": "planner",
                 "reviewer": "reviewer"},
    "agents": [
        {"id": "planner", "script": [
            wait(), {"tool": "create_tasks", "args": {"tasks": plan_of_30()}}, wait(),
            {"tool": "finish", "args": {"summary": "planned 30 tasks"}}]},
        *({"id": w, "script": [wait(), {"tool": "submit_task", "args": {
            "task_id": f"t{n:02d}", "summary": f"{TITLES[n - 1]}: done, with tests"}},
            wait(), wait()]}
          for n, w in enumerate(WORKERS, 1)),
        {"id": "reviewer", "script": [
            wait(), wait(), wait(),
            {"tool": "review_task", "args": {"task_id": "t01", "verdict": "approve",
                                             "feedback": "good"}},
            {"tool": "review_task", "args": {"task_id": "t02", "verdict": "changes",
                                             "feedback": "Sort the keys: the output must "
                                                         "be stable."}},
            wait()]},
    ],
}


def settled(s) -> bool:
    """The picture: t01 done, t02 back with the tester (who read why), t03 in review."""
    tasks = s.board.tasks
    return len(tasks) == 30 and tasks["t01"].state == "done" \
        and (tasks["t02"].state, tasks["t02"].record.attempt) == ("running", 2) \
        and tasks["t03"].state == "review" and s.agents["tester"].tool_calls == 4 \
        and s.agents["reviewer"].tool_calls == 6


def board_app(tmp: Path, team: dict | None, picture, *keys: str):
    """The app on ``team`` (None: the demo); once ``picture`` holds for the run state and
    the board on screen shows it, press ``keys``."""
    app = app_for(write_team(tmp, team) if team else None, tmp, auto_approve=True)

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda s: picture(s) and pilot.app._board_due is None
                         and not s.board.dirty, timeout=60)
        pilot.app.clear_notifications()
        await pilot.press(*keys)
        await pilot.pause()
        pilot.app.clear_notifications()
        messages = pilot.app.query_one(MessagesPanel)  # it follows the newest message:
        await wait_until(pilot, lambda s: messages.row_count == len(s.messages))  # scroll
        messages.move_cursor(row=messages.row_count - 1, animate=False, scroll=True)  # now
        await pilot.pause()
        await pilot.pause()

    return app, run_before


def test_board_in_place_at_80x24(snap_compare, tui_env: Path) -> None:
    app, run_before = board_app(tui_env, TEAM, settled, "b", "down", "down")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_board_in_place_at_120x40(snap_compare, tui_env: Path) -> None:
    app, run_before = board_app(tui_env, TEAM, settled, "b", "right", "right")
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_board_full_screen_at_80x24(snap_compare, tui_env: Path) -> None:
    app, run_before = board_app(tui_env, TEAM, settled, "B", "end")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def demo_done(s) -> bool:
    return s.finished and s.board.tasks.get("test") is not None \
        and s.board.tasks["test"].state == "done"


def test_a_cards_history(snap_compare, tui_env: Path) -> None:
    """The demo's last task: approved by the reviewer, failed by QA, fixed, passed."""
    app, run_before = board_app(tui_env, None, demo_done, "b", "right", "right", "right",
                                "right", "end", "enter")

    async def open_history(pilot) -> None:
        await run_before(pilot)
        assert pilot.app.screen.query_one("#task")  # the history screen is open
        assert not pilot.app.screen.query(BoardPanel)

    assert snap_compare(app, terminal_size=(100, 40), run_before=open_history)


def test_a_blocked_tasks_dialog(snap_compare, tui_env: Path) -> None:
    app = app_for(write_team(tui_env, BLOCKED_TEAM), tui_env, auto_approve=True)

    async def run_before(pilot) -> None:
        await open_blocked(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 32), run_before=run_before)
