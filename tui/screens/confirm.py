"""A yes/no question (cancel an agent, stop the run and quit)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.safe_text import safe_text
from tui.screens.dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, text: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = safe_text(self.title_text)
            yield Static(safe_text(self.text), id="prompt")
            with Horizontal(id="buttons"):
                yield Button(safe_text(f"{self.yes} (y)"), variant="error", id="yes")
                yield Button(safe_text(f"{self.no} (n)"), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
