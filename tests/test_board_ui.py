"""The Board view in the real control center: a real engine and store, its `task` and
`workflow` events recorded and published by the engine, the app under Textual's pilot.

The key `b` puts the board in place of the Agents panel, `B` opens it full screen,
Enter on a card opens its history, which follows the task live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import events as ev
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tests.test_board_ui_state import record
from tui.screens.board import BoardScreen
from tui.screens.task_history import TaskHistoryScreen
from tui.widgets.agents_panel import AgentsPanel
from tui.widgets.board_grid import BoardGrid
from tui.widgets.board_panel import BoardPanel

TEAM = {"name": "board", "agents": [
    {"id": a, "type": "coder", "script": [{"tool": "wait_for_message", "args": {"timeout": 300}}]}
    for a in ("planner", "coder", "tester")]}


def running(s) -> bool:
    return s.run_status == "running"


def task_is(task_id: str, state: str, attempt: int = 1):
    def check(s) -> bool:
        task = s.board.tasks.get(task_id)
        return task is not None and (task.state, task.record.attempt) == (state, attempt)
    return check


async def emit(app, *records: dict[str, Any]) -> None:
    for data in records:
        await app.engine.emit(ev.TASK, None, **data)


async def board_drawn(pilot, predicate) -> None:
    """Wait until ``predicate`` holds for the run state and the board on screen shows
    it (the board is drawn at most ten times a second)."""
    app = pilot.app
    await wait_until(pilot, lambda s: predicate(s) and app._board_due is None
                     and not s.board.dirty)


def shown_keys(app) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


def grid(app) -> BoardGrid:
    return app.screen.query_one(BoardGrid)


def card_ids(app, key: str) -> list[str]:
    return grid(app).column(key).ids


def current(app) -> str:
    """The column the keys act on, when the board has the focus."""
    g = grid(app)
    return g.columns[g.current].key if app.focused is g else "(board not focused)"


async def test_b_shows_the_board_in_place_of_the_agents_and_back(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, running)
        assert "b" not in shown_keys(app)  # no workflow yet: the key is not advertised
        await app.engine.emit(ev.WORKFLOW, None, goal="Add --json", phase="running", attempt=1)
        await emit(app, record("t1", "todo", title="Parse the flag"),
                   record("t2", "running", title="Print JSON"))
        await board_drawn(pilot, lambda s: len(s.board.tasks) == 2)
        assert "b" in shown_keys(app)
        await pilot.press("b")
        board = app.query_one("#board", BoardPanel)
        assert board.display and not app.query_one(AgentsPanel).display
        assert card_ids(app, "todo") == ["t1"] and card_ids(app, "running") == ["t2"]
        assert "Add --json" in str(board.border_title)
        assert current(app) == "todo"  # the first column with cards
        await pilot.press("b")
        assert not board.display and app.query_one(AgentsPanel).display


async def test_cards_move_between_columns_and_keep_the_highlighted_card(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, running)
        await emit(app, *(record(f"t{i}", "todo") for i in range(4)))
        await board_drawn(pilot, lambda s: len(s.board.tasks) == 4)
        await pilot.press("b", "down", "down")  # t2 highlighted
        await emit(app, record("t0", "running"), record("t3", "review", summary="done it"))
        await board_drawn(pilot, task_is("t3", "review"))
        await pilot.pause()
        assert card_ids(app, "todo") == ["t1", "t2"]
        assert card_ids(app, "running") == ["t0"] and card_ids(app, "review") == ["t3"]
        assert grid(app).cursor_id == "t2"
        assert "Todo 2" in grid(app).render_line(0).text
        await pilot.press("right")
        assert current(app) == "running"
        await pilot.press("right")  # Review (QA, Done and Blocked are empty)
        assert current(app) == "review"


async def test_enter_opens_a_cards_history_that_follows_the_task(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, running)
        await emit(app, record("t1", "running"), record("t1", "review", summary="first go"))
        await board_drawn(pilot, task_is("t1", "review"))
        await pilot.press("b", "right", "enter")  # Running is empty: Review's card
        screen = app.screen
        assert isinstance(screen, TaskHistoryScreen) and screen.task_id == "t1"
        assert "first go" in _text_of(screen)
        await emit(app, record("t1", "running", attempt=2, summary="first go",
                               feedback="[b]handle[/b] empty input"))
        await board_drawn(pilot, task_is("t1", "running", 2))
        await wait_until(pilot, lambda s: "Attempt 2" in _text_of(screen))
        assert "[b]handle[/b] empty input" in _text_of(screen)  # plain text, not markup
        await pilot.press("escape")
        assert not isinstance(app.screen, TaskHistoryScreen)


async def test_the_full_screen_board_gets_updates_and_esc_goes_back(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, running)
        await emit(app, record("t1", "todo"))
        await board_drawn(pilot, lambda s: "t1" in s.board.tasks)
        await pilot.press("B")
        assert isinstance(app.screen, BoardScreen)
        await emit(app, record("t1", "done", summary="ok"), record("t2", "blocked",
                                                                   reason="QA failed 3 times"))
        await board_drawn(pilot, lambda s: "t2" in s.board.tasks)
        await pilot.pause()
        assert card_ids(app, "done") == ["t1"] and card_ids(app, "blocked") == ["t2"]
        await pilot.press("escape")
        assert not isinstance(app.screen, BoardScreen)
        await pilot.press("b")  # the board in place shows what happened meanwhile
        assert card_ids(app, "done") == ["t1"] and card_ids(app, "blocked") == ["t2"]


async def test_thirty_tasks_at_80x24_every_card_is_reached_by_scrolling(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, running)
        await emit(app, *(record(f"t{i:02d}", "todo", order=i) for i in range(30)))
        await board_drawn(pilot, lambda s: len(s.board.tasks) == 30)
        await pilot.press("b")
        g = grid(app)
        assert g.per_page < 30  # far fewer rows than cards: it scrolls
        for _ in range(29):
            await pilot.press("down")
        assert g.cursor_id == "t29"
        assert g.column("todo").top > 0
        assert any("Title of t29" in g.render_line(y).text for y in range(g.size.height))
        await pilot.press("enter")
        assert isinstance(app.screen, TaskHistoryScreen) and app.screen.task_id == "t29"


def _text_of(screen) -> str:
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in screen.query(Static))


async def test_a_replay_shows_the_board_as_it_was(tui_env: Path) -> None:
    from engine.cli import recorded_run
    from tests.conftest_tui import RUN_ID
    from tui.replay import make_replay_app

    live = app_for(None, tui_env, auto_approve=True)  # the demo: the workflow, to its end
    async with live.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda s: s.finished, timeout=60)
    found = await recorded_run(str(tui_env / "state.db"), RUN_ID)
    assert found is not None
    app = make_replay_app(*found, blink_cursors=False, paused=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("G")
        await board_drawn(pilot, lambda s: app.player.at_end and s.finished)
        assert "b" in shown_keys(app)
        await pilot.press("b")
        assert card_ids(app, "done") == ["greet", "docs", "test"]
        await pilot.press("enter")  # a replay's history is read-only, but there
        assert isinstance(app.screen, TaskHistoryScreen)
