"""The task board: columns Todo, Running, Review, QA, Done, Blocked of compact cards.

The panel holds the board's title (goal and phase), a line for a board without tasks,
and the columns (widgets/board_grid.py, one Line API widget).  The app hands it the
board after each batch of task events (at most ten times a second); a hidden board
only notes that it is stale and catches up when shown.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tui.board_state import BoardState
from tui.board_text import board_title, empty_board_text
from tui.widgets.board_grid import BoardGrid

COMPACT_BELOW = 20  #: rows: a lower board shows two-line cards (status beside the assignee)


class BoardPanel(Vertical):
    """The board; `refresh_board` shows it as it is now."""

    class TaskChosen(Message):
        """Enter (or a click) on a card: open its history."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.board: BoardState | None = None
        self.stale = True  #: not drawn since the board last changed (hidden)
        self.border_title = board_title(BoardState())

    def compose(self) -> ComposeResult:
        yield Static(empty_board_text(BoardState()), classes="board-empty")
        yield BoardGrid()

    @property
    def grid(self) -> BoardGrid:
        return self.query_one(BoardGrid)

    def refresh_board(self, board: BoardState) -> None:
        """Show ``board`` (only cards whose task changed are drawn again)."""
        self.board = board
        if not self.display or not self.is_mounted:
            self.stale = True
            return
        self.stale = False
        title = board_title(board)
        if str(title) != str(self.border_title):
            self.border_title = title
        empty = self.query_one(".board-empty", Static)
        if empty.display != (not board.tasks):
            empty.display = not board.tasks
        if not board.tasks:
            empty.update(empty_board_text(board))
        self.grid.set_cards(board.columns(), self.size.height < COMPACT_BELOW)

    def on_show(self) -> None:
        if self.board is not None and self.stale:
            self.refresh_board(self.board)

    def on_resize(self) -> None:
        if self.board is not None:
            self.refresh_board(self.board)

    def focus_cards(self) -> None:
        self.grid.focus()

    def on_board_grid_selected(self, event: BoardGrid.Selected) -> None:
        event.stop()
        self.post_message(self.TaskChosen(event.task_id))
