"""One message in full."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from tui.presentation import message_full
from tui.safe_text import safe_text
from tui.screens.dialog import Dialog
from tui.state import MessageView


class MessageScreen(Dialog[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, message: MessageView) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as box:
            box.border_title = safe_text(f"Message {self.message.id}")
            yield Static(message_full(self.message), id="prompt")
            yield Label("Esc close", classes="hint")
