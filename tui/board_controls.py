"""The board's keys and updates: a mixin of the app (like `Controls`).

`b` shows the board in place of the Agents panel (again: the agents), `B` opens it
full screen, Enter on a card opens the card's history.  `update_boards` is called by
the app for each batch of events that touched the board: every board on screen gets
the ids of the tasks that changed, and an open history follows its task.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from engine import events as ev
from tui.screens.board import BoardScreen
from tui.screens.task_history import TaskHistoryScreen
from tui.widgets.agents_panel import AgentsPanel
from tui.widgets.board_panel import BoardPanel

if TYPE_CHECKING:
    from tui.app import ControlCenter

    _Base = ControlCenter
else:
    _Base = object

BOARD_EVENTS = frozenset({ev.TASK, ev.WORKFLOW})


class BoardControls(_Base):
    board_told = False  #: the person was told once that the plan's tasks are on the board

    def show_board_key(self, show: bool) -> None:
        """`b` is in the footer only for a run with a workflow (it works in any run)."""
        bindings = self._bindings.key_to_bindings
        if any(b.show != show for b in bindings.get("b", [])):
            bindings["b"] = [replace(b, show=show) for b in bindings["b"]]
            self.refresh_bindings()

    def board_panels(self) -> list[BoardPanel]:
        """The boards in the app: the main screen's and a full-screen one."""
        panels = []
        for screen in self.screen_stack:
            panels += list(screen.query(BoardPanel))
        return panels

    def update_boards(self, events: list[ev.Event], history: bool) -> None:
        if self.state is None or not any(e.type in BOARD_EVENTS for e in events):
            return
        board = self.state.board
        self.show_board_key(True)
        changed = board.take_dirty()
        for panel in self.board_panels():
            panel.refresh_board(board, changed)
        screen = self.screen
        if isinstance(screen, TaskHistoryScreen) and screen.task_id in changed:
            self.run_worker(screen.task_changed(), group="task-history")
        if board.tasks and not self.board_told and not history and self.live:
            self.board_told = True
            if not self.query_one("#board", BoardPanel).display:
                self.notify("The plan's tasks are on the board: b shows it (B full screen).",
                            timeout=6)

    def action_toggle_board(self) -> None:
        """The board in place of the Agents panel, or the agents again."""
        board = self.query_one("#board", BoardPanel)
        agents = self.query_one(AgentsPanel)
        showing = not board.display
        board.display = showing
        agents.display = not showing
        if showing:
            if self.state is not None:
                board.refresh_board(self.state.board)
            board.focus_column()
        else:
            agents.focus()

    def action_board_screen(self) -> None:
        if self.state is None:
            return
        self.push_screen(BoardScreen(self.state.board))

    def on_board_panel_task_chosen(self, message: BoardPanel.TaskChosen) -> None:
        if self.state is not None:
            self.push_screen(TaskHistoryScreen(self.state.board, message.task_id))
