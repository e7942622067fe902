"""A progress report: read it, acknowledge it (it does not block the agent)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static

from tui.decisions import Decision
from tui.safe_text import safe_text
from tui.screens.dialog import InterruptDialog


class ProgressScreen(InterruptDialog):
    BINDINGS = [
        Binding("enter,a", "acknowledge", "Acknowledge"),
        Binding("escape", "close", "Later"),
    ]

    def compose(self) -> ComposeResult:
        intr = self.interrupt
        with Vertical(id="dialog") as box:
            box.border_title = safe_text(f"Progress report from {intr.agent} · {intr.id}")
            yield Static(safe_text(intr.prompt), id="prompt")
            yield Label("Enter acknowledge · Esc later (the agent is not waiting)", classes="hint")

    def action_acknowledge(self) -> None:
        self.dismiss(Decision(self.interrupt.id, "ack"))
