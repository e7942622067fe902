"""The board's keys and updates: a mixin of the app (like `Controls`).

`b` shows the board in place of the Agents panel (again: the agents), `B` opens it
full screen, Enter on a card opens the card's history.  `update_boards` is called by
the app for each batch of events that touched the board: every board on screen gets
the ids of the tasks that changed, and an open history follows its task.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from engine import events as ev
from tui.screens.board import BoardScreen
from tui.screens.task_history import TaskHistoryScreen
from tui.widgets.agents_panel import AgentsPanel
from tui.widgets.board_panel import BoardPanel

if TYPE_CHECKING:
    from textual.timer import Timer

    from tui.app import ControlCenter

    _Base = ControlCenter
else:
    _Base = object

BOARD_EVENTS = frozenset({ev.TASK, ev.WORKFLOW})
#: seconds between two drawings of the board: a burst of task changes (200 tasks moving
#: at once) is drawn ten times a second, not once per batch of events
BOARD_FRAME = 0.1


class BoardControls(_Base):
    board_told = False  #: the person was told once that the plan's tasks are on the board
    _board_due: Timer | None = None  #: the next frame of the board, when one is scheduled
    _board_drawn_at = 0.0

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
        """A batch touched the board: draw it now, or at the next frame of the board
        when one was drawn less than BOARD_FRAME ago (changes in between add up)."""
        if self.state is None or not any(e.type in BOARD_EVENTS for e in events):
            return
        board = self.state.board
        self.show_board_key(True)
        if board.tasks and not self.board_told and not history and self.live:
            self.board_told = True
            if not self.query_one("#board", BoardPanel).display \
                    and not isinstance(self.screen, BoardScreen):
                self.notify("The plan's tasks are on the board: b shows it (B full screen).",
                            timeout=6)
        if self._board_due is not None:
            return
        wait = self._board_drawn_at + BOARD_FRAME - time.monotonic()
        if wait > 0:
            self._board_due = self.set_timer(wait, self.draw_boards)
        else:
            self.draw_boards()

    def draw_boards(self) -> None:
        """Every board on screen shows the board; an open history follows its task."""
        self._board_due = None
        self._board_drawn_at = time.monotonic()
        if self.state is None or self._panels_gone():
            return
        board = self.state.board
        changed = board.take_dirty()
        for panel in self.board_panels():
            panel.refresh_board(board)
        screen = self.screen
        if isinstance(screen, TaskHistoryScreen) and screen.task_id in changed:
            self.run_worker(screen.task_changed(), group="task-history", exclusive=True)

    def board_commands(self) -> Iterable[SystemCommand]:
        """The board in the command palette, once the run has a workflow."""
        if self.state is None or not (self.state.board.tasks or self.state.board.phase):
            return
        board = self.query_one("#board", BoardPanel)
        yield SystemCommand("Agents panel" if board.display else "Board",
                            "b: the agents again" if board.display else
                            "b: the task board in place of the agents", self.action_toggle_board)
        yield SystemCommand("Board full screen", "B: every column at full height",
                            self.action_board_screen)

    def open_task_interrupt(self, task_id: str) -> bool:
        """Open the dialog of the blocked task's interrupt; False when none is pending."""
        if self.state is None:
            return False
        intr = next((i for i in self.state.interrupts.values()
                     if i.kind == "task_blocked" and i.task == task_id), None)
        if intr is not None:
            self.open_interrupt(intr)
        return intr is not None

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
            board.focus_cards()
        else:
            agents.focus()

    def action_board_screen(self) -> None:
        if self.state is None:
            return
        self.push_screen(BoardScreen(self.state.board))

    def on_board_panel_task_chosen(self, message: BoardPanel.TaskChosen) -> None:
        if self.state is not None:
            self.push_screen(TaskHistoryScreen(self.state.board, message.task_id))
