"""Write a message to an agent; it arrives in its inbox from `user`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from engine.control_chars import visible_controls
from tui.safe_text import safe_text
from tui.screens.dialog import Dialog


class ComposeScreen(Dialog[str | None]):
    def __init__(self, agent: str, text: str = "", note: str = "") -> None:
        super().__init__()
        self.agent = agent
        self.text = text
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = safe_text(f"Message to {self.agent}")
            if self.note:
                yield Label(safe_text(self.note), id="prompt")
            yield Input(self.text, placeholder=visible_controls(f"Write to {self.agent}; Enter sends"),
                        id="text")
            yield Label(safe_text(f"It arrives in {self.agent}'s inbox from `user` · Esc cancel"),
                        classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.dismiss(event.value.strip())
