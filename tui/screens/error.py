"""The team could not start (no Docker, missing image…): say so, and how to fix it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static

from tui.safe_text import safe_text
from tui.screens.dialog import Dialog


class StartFailedScreen(Dialog[None]):
    BINDINGS = [Binding("q,escape,enter", "app.quit_now", "Quit")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error") as box:
            box.border_title = "The team could not start"
            yield Static(safe_text(self.text), id="prompt")
            yield Label("q quit (the message is printed again on exit)", classes="hint")
