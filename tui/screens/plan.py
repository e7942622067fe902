"""A plan to approve: `a` approves, `r` rejects with feedback, `e` edits the steps first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Input, Label, Static, TextArea

from engine.control_chars import visible_controls
from tui.decisions import Decision
from tui.safe_text import safe_text
from tui.screens.dialog import InterruptDialog
from tui.state import InterruptView

HINTS = {
    "view": "a approve · r reject with feedback · e edit the steps · Esc later",
    "reject": "Type the feedback for the agent · Enter reject · Esc back",
    "edit": "One step per line · Ctrl+S approve the edited plan · Esc back",
}


def numbered(steps: list[str]) -> str:
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1)) or "(no steps)"


class PlanScreen(InterruptDialog):
    AUTO_FOCUS = ""  # nothing focused: keys a/r/e act until a text field is shown
    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("r", "reject", "Reject"),
        Binding("e", "edit", "Edit"),
        Binding("ctrl+s", "save_edit", "Approve edited"),
        Binding("escape", "back", "Back/Later"),
    ]
    mode = reactive("view")

    def __init__(self, interrupt: InterruptView, mode: str = "view") -> None:
        super().__init__(interrupt)
        self._start_mode = mode

    def compose(self) -> ComposeResult:
        intr = self.interrupt
        with Vertical(id="dialog") as box:
            box.border_title = safe_text(f"Plan approval · {intr.agent} · {intr.id}")
            yield Static(safe_text(intr.prompt), id="prompt")
            yield Static(safe_text(numbered(intr.steps)), id="steps")
            yield Input(placeholder="Why? What should change?", id="feedback")
            # an editor draws its text raw: the steps' control characters made visible
            yield TextArea(visible_controls("\n".join(intr.steps)), id="edit", soft_wrap=True)
            yield Label(HINTS["view"], classes="hint", id="hint")

    _ready = False

    def on_mount(self) -> None:
        self._ready = True
        self.mode = self._start_mode
        self.watch_mode(self.mode)

    def watch_mode(self, mode: str) -> None:
        if not self._ready:
            return
        feedback = self.query_one("#feedback", Input)
        edit = self.query_one("#edit", TextArea)
        feedback.display = mode == "reject"
        edit.display = mode == "edit"
        self.query_one("#steps").display = mode != "edit"
        self.query_one("#hint", Label).update(HINTS[mode])
        if mode == "reject":
            feedback.focus()
        elif mode == "edit":
            edit.focus()
            edit.move_cursor(edit.document.end)
        else:
            self.set_focus(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject", "edit"):
            return self.mode == "view"
        if action == "save_edit":
            return self.mode == "edit"
        return True

    def action_approve(self) -> None:
        self.dismiss(Decision(self.interrupt.id, "approve"))

    def action_reject(self) -> None:
        self.mode = "reject"

    def action_edit(self) -> None:
        self.mode = "edit"

    def action_back(self) -> None:
        if self.mode == "view":
            self.dismiss(None)
        else:
            self.mode = "view"

    def action_save_edit(self) -> None:
        steps = [line.strip() for line in self.query_one("#edit", TextArea).text.splitlines()
                 if line.strip()]
        if not steps:
            self.notify("A plan needs at least one step.", severity="warning")
            return
        self.dismiss(Decision(self.interrupt.id, "approve", steps=steps))

    def initial_text(self, area: object) -> str:
        return visible_controls("\n".join(self.interrupt.steps)).strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        feedback = event.value.strip()
        if not feedback:  # the agent re-plans from the feedback: an empty one helps nobody
            self.notify("Say what should change: the agent re-plans from your feedback "
                        "(Esc goes back).", severity="warning")
            return
        self.dismiss(Decision(self.interrupt.id, "reject", feedback))
