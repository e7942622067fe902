"""A blocked task answered from its dialog: retry with a note, reassign, skip, cancel.

A scripted team on the real engine: the reviewer asks for changes twice, so with
`max_attempts: 2` the task is blocked and raises a `task_blocked` interrupt.  The
person opens it from the Interrupts panel; the dialog shows why the task is blocked
and sends the board's headless command.  Each answer is checked on the board the
engine's `task` events build."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, OptionList, Static

from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    pending,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.board_state import attempts
from tui.screens.task_blocked import TaskBlockedScreen
from tui.screens.task_history import TaskHistoryScreen
from tui.widgets.board_grid import BoardGrid
from tui.widgets.interrupts_panel import InterruptsPanel


def wait(seconds: int = 86400) -> dict:
    return {"tool": "wait_for_message", "args": {"timeout": seconds}}


def submit(summary: str) -> dict:
    return {"tool": "submit_task", "args": {"task_id": "json", "summary": summary}}


def review(verdict: str, feedback: str) -> dict:
    return {"tool": "review_task",
            "args": {"task_id": "json", "verdict": verdict, "feedback": feedback}}


TEAM = {
    "name": "blocked",
    "defaults": {"model": "scripted"},
    "workflow": {"goal": "Add a --json flag", "planner": "planner", "reviewer": "reviewer",
                 "max_attempts": 2},
    "agents": [
        {"id": "planner", "script": [
            wait(),
            {"tool": "create_tasks", "args": {"tasks": [
                {"id": "json", "title": "Add --json", "assignee": "coder",
                 "description": "Print the results as JSON."}]}},
            wait(), {"tool": "finish", "args": {"summary": "planned"}}]},
        {"id": "coder", "script": [wait(), submit("first go"), wait(), submit("second go"),
                                   wait(), submit("third go"), wait()]},
        {"id": "tester", "script": [wait(), submit("the tester's go"), wait()]},
        {"id": "reviewer", "script": [
            wait(), review("changes", "[b]handle[/b] empty input"),
            wait(), review("changes", "still fails on empty input \x1b[31m"),
            wait(), review("approve", "good"), wait()]},
    ],
}


def task_is(state: str, attempt: int | None = None):
    def check(s) -> bool:
        task = s.board.tasks.get("json")
        return task is not None and task.state == state and (
            attempt is None or task.record.attempt == attempt)
    return check


async def open_blocked(pilot) -> TaskBlockedScreen:
    app = pilot.app
    await wait_until(pilot, lambda s: pending("task_blocked")(s) and task_is("blocked")(s))
    app.clear_notifications()
    intr = next(i for i in app.state.interrupts.values() if i.kind == "task_blocked")
    panel = app.query_one(InterruptsPanel)
    panel.focus()
    panel.select(intr.id)
    await pilot.press("enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TaskBlockedScreen)
    return screen


def shown_text(screen) -> str:
    return "\n".join(str(w.render()) for w in screen.query(Static))


async def test_the_dialog_says_why_and_retry_with_a_note_runs_the_task_again(tui_env: Path
                                                                            ) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env, auto_approve=True)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_blocked(pilot)
        text = shown_text(screen)
        assert "is blocked" in text and "still fails on empty input ␛[31m" in text
        assert screen.query_one("#choices", OptionList).has_focus
        await pilot.press("r")  # retry: a note for the assignee
        assert screen.query_one("#note", Input).has_focus
        await pilot.press(*"the [b]empty[/b] case first", "enter")
        await wait_until(pilot, task_is("done", 3))
        task = app.state.board.tasks["json"]
        assert [c.record.feedback for c in task.changes if c.record.attempt == 3][0] \
            == "the [b]empty[/b] case first"
        assert task.record.summary == "third go"
        assert not app.state.interrupts


async def test_reassign_gives_the_task_to_the_agent_picked(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env, auto_approve=True)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_blocked(pilot)
        await pilot.press("down", "enter")  # Reassign
        agents = screen.query_one("#agents", OptionList)
        assert agents.has_focus
        ids = [agents.get_option_at_index(i).id for i in range(agents.option_count)]
        assert "coder" not in ids and "tester" in ids  # not its own assignee
        agents.highlighted = ids.index("tester")
        await pilot.press("enter")
        await wait_until(pilot, lambda s: s.board.tasks["json"].record.assignee == "tester"
                         and s.board.tasks["json"].state in ("running", "review", "done"))
        assert not app.state.interrupts


async def test_skip_leaves_the_task_undone(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env, auto_approve=True)
    async with app.run_test(size=(100, 36)) as pilot:
        await open_blocked(pilot)
        await pilot.press("k")
        await wait_until(pilot, task_is("skipped"))
        assert not app.state.interrupts


async def test_cancel_asks_again_then_cancels_the_runs_tasks(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env, auto_approve=True)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = await open_blocked(pilot)
        await pilot.press("end", "enter")  # Cancel the run
        confirm = screen.query_one("#confirm", OptionList)
        assert confirm.has_focus and app.screen is screen  # not yet: it asks
        assert confirm.highlighted == 1  # on No
        await pilot.press("enter")  # No: back to the choices
        assert screen.query_one("#choices", OptionList).has_focus
        await pilot.press("end", "enter", "up", "enter")  # Cancel, then Yes
        await wait_until(pilot, task_is("cancelled"))
        await wait_until(pilot, lambda s: s.finished)


async def test_a_in_a_blocked_cards_history_opens_its_dialog(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env, auto_approve=True)
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda s: pending("task_blocked")(s) and task_is("blocked")(s)
                         and app._board_due is None and not s.board.dirty)
        await pilot.press("b", "enter")  # the only card: in Blocked
        assert isinstance(app.screen, TaskHistoryScreen) and app.screen.task_id == "json"
        assert "a" in {k for k, b in app.screen.active_bindings.items() if b.binding.show}
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TaskBlockedScreen)
        assert app.screen.task_id == "json"


async def test_a_run_resumed_after_kill_9_shows_its_board_and_the_blocked_task(
        tui_env: Path) -> None:
    import argparse

    from engine.cli import open_engine, team_for_resume
    from tests.crash_support import HeadlessRun
    from tui.app import make_app

    write_team(tui_env, TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--auto-approve", "--backend", "local",
                       "--db", "state.db"], tui_env)
    try:
        run.until(lambda e: e["type"] == "interrupt" and e["kind"] == "task_blocked",
                  answer=False)
    finally:
        run.kill9()
    args = argparse.Namespace(db=str(tui_env / "state.db"), resume="last", auto_approve=True,
                              backend="local", image=None, headless=False)
    team, config = team_for_resume(args)

    async def factory():
        return await open_engine(team, config, args)

    app = make_app(factory, flush_interval=0.05, blink_cursors=False)
    async with app.run_test(size=(100, 36)) as pilot:
        await wait_until(pilot, lambda s: pending("task_blocked")(s) and task_is("blocked")(s)
                         and app._board_due is None and not s.board.dirty)
        await pilot.press("b")
        grid = app.query_one(BoardGrid)
        assert grid.column("blocked").ids == ["json"]
        assert "b" in {k for k, b in app.active_bindings.items() if b.binding.show}
        # the history from before the kill: two attempts, two requests for changes
        kinds = [e.kind for a in attempts(app.state.board.tasks["json"]) for e in a.entries]
        assert kinds.count("review_changes") == 2 and kinds[-1] == "blocked"
        await pilot.press("enter", "a")  # its history, then its dialog
        await pilot.pause()
        assert isinstance(app.screen, TaskBlockedScreen)
        await pilot.press("k")  # skip
        await wait_until(pilot, task_is("skipped"))
