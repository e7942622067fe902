"""A risky command to approve: what, who, why; approve or reject with a reason."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from tui.decisions import Decision
from tui.screens.dialog import InterruptDialog
from tui.state import InterruptView

VIEW_HINT = "a approve · r reject with a reason · Esc later"
REJECT_HINT = "Enter reject · Esc back"


class CommandScreen(InterruptDialog):
    AUTO_FOCUS = ""  # nothing focused: keys a/r/e act until a text field is shown
    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("r", "reject", "Reject"),
        Binding("escape", "back", "Back/Later"),
    ]
    rejecting = reactive(False)

    def __init__(self, interrupt: InterruptView, mode: str = "view") -> None:
        super().__init__(interrupt)
        self._start_rejecting = mode == "reject"

    def compose(self) -> ComposeResult:
        intr = self.interrupt
        with Vertical(id="dialog") as box:
            what = {"budget": "Budget reached", "disk": "Workspace full"}.get(intr.kind, "Command approval")
            box.border_title = f"{what} · {intr.agent} · {intr.id}"
            if intr.command:
                yield Static(Text.assemble((intr.agent, "bold"), " wants to run:"), id="prompt")
                yield Static(Text(f"$ {intr.command}", style="bold"), id="command")
            else:
                yield Static(intr.prompt, id="prompt")
            yield Static(Text.assemble("Why it needs you: ", (intr.reason or "approval required",
                                                             "yellow")), id="reason")
            yield Input(placeholder="Reason for rejecting (sent to the agent)", id="feedback")
            yield Label(VIEW_HINT, classes="hint", id="hint")

    _ready = False

    def on_mount(self) -> None:
        self._ready = True
        self.rejecting = self._start_rejecting
        self.watch_rejecting(self.rejecting)

    def watch_rejecting(self, rejecting: bool) -> None:
        if not self._ready:
            return
        feedback = self.query_one("#feedback", Input)
        feedback.display = rejecting
        self.query_one("#hint", Label).update(REJECT_HINT if rejecting else VIEW_HINT)
        if rejecting:
            feedback.focus()
        else:
            self.set_focus(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject"):
            return not self.rejecting
        return True

    def action_approve(self) -> None:
        self.dismiss(Decision(self.interrupt.id, "approve"))

    def action_reject(self) -> None:
        self.rejecting = True

    def action_back(self) -> None:
        if self.rejecting:
            self.rejecting = False
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(Decision(self.interrupt.id, "reject", event.value.strip()))
