"""The board full screen (B): every column at the terminal's full height."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from tui.board_state import BoardState
from tui.widgets.board_panel import BoardPanel


class BoardScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,B,b", "close", "Back"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, board: BoardState) -> None:
        super().__init__()
        self.board = board

    def compose(self) -> ComposeResult:
        yield BoardPanel(id="board-full")
        yield Footer()

    def on_mount(self) -> None:
        panel = self.query_one(BoardPanel)
        panel.refresh_board(self.board)
        panel.focus_cards()

    def action_close(self) -> None:
        self.dismiss(None)
