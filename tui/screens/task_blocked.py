"""A blocked task (`task_blocked`): retry with a note, reassign, skip, or cancel the run.

What the person sees first is why the task is blocked (the reason, the last feedback
and the tail of the last QA output, plain text), then the four answers.  Each answer is
carried out by the same command a headless client sends (engine/service/commands.py):
``{"type": "task", "action": "retry"|"reassign"|"skip", "task": ID, "agent"?, "text"}``;
cancel answers the interrupt with ``cancel`` (every task not done is cancelled and the
run stops), after a second confirmation.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.board_state import TaskView
from tui.board_text import qa_output_text
from tui.decisions import Decision
from tui.safe_text import safe_text
from tui.screens.dialog import InterruptDialog
from tui.state import InterruptView

QA_TAIL_LINES = 8
CHOICES = [("retry", "Retry: one more attempt, with a note for the assignee"),
           ("reassign", "Reassign: give the task to another agent"),
           ("skip", "Skip: leave it undone; the tasks after it go on"),
           ("cancel", "Cancel the run: every task not done is cancelled")]
HINTS = {
    "choose": "↑↓ choose · Enter pick · r retry · g reassign · k skip · Esc later",
    "retry": "A note for the assignee (optional) · Enter retry · Esc back",
    "reassign": "↑↓ choose the agent · Enter reassign · Esc back",
    "cancel": "↑ Yes, then Enter: cancel the run's tasks · Enter: No · Esc back",
}


class TaskBlockedScreen(InterruptDialog):
    AUTO_FOCUS = "#choices"
    BINDINGS = [
        Binding("r", "pick('retry')", "Retry", show=False),
        Binding("g", "pick('reassign')", "Reassign", show=False),
        Binding("k", "pick('skip')", "Skip", show=False),
        Binding("escape", "back", "Back/Later"),
    ]
    step = reactive("choose")

    def __init__(self, interrupt: InterruptView, task: TaskView | None,
                 agents: list[str]) -> None:
        super().__init__(interrupt)
        self.blocked = task
        self.task_id = interrupt.task or (task.task_id if task else "")
        self.agents = agents  #: who may take the task over (agents still running)

    def compose(self) -> ComposeResult:
        intr = self.interrupt
        with Vertical(id="dialog", classes="wide") as box:
            box.border_title = safe_text(f"Blocked task {self.task_id} · {intr.agent} · {intr.id}")
            yield Static(safe_text(intr.prompt, "bold"), id="prompt")
            with VerticalScroll(classes="code", id="why"):
                yield from self._why()
            yield OptionList(*(Option(text, id=key) for key, text in CHOICES), id="choices")
            yield Input(placeholder="e.g. use the other API; the test needs a fixture",
                        id="note")
            yield OptionList(*(Option(safe_text(a), id=a) for a in self.agents), id="agents")
            yield OptionList(Option("Yes: cancel every task not done and stop the run",
                                    id="yes"),
                             Option("No: back", id="no"), id="confirm")
            yield Label(HINTS["choose"], classes="hint", id="hint")

    def _why(self) -> ComposeResult:
        task = self.blocked
        if task is None:
            yield Static(safe_text("The task is not on the board yet.", "dim"))
            return
        r = task.record
        of = f" of {r.max_attempts}" if r.max_attempts else ""
        lines = [("assignee", r.assignee or "unassigned"), ("attempt", f"{r.attempt}{of}"),
                 ("feedback", r.feedback or "")]  # the reason is in the prompt above
        for label, value in lines:
            if value:
                yield Static(safe_text(f"{label:<9}") + safe_text(value))
        if r.qa_output:
            tail = "\n".join(r.qa_output.rstrip("\n").splitlines()[-QA_TAIL_LINES:])
            yield Static(safe_text("last QA output (its end):", "dim"))
            yield Static(qa_output_text(tail))

    _ready = False

    def on_mount(self) -> None:
        super().on_mount()
        self._ready = True
        self.watch_step(self.step)

    def watch_step(self, step: str) -> None:
        if not self._ready:
            return
        shown = {"choose": "#choices", "retry": "#note", "reassign": "#agents",
                 "cancel": "#confirm"}
        for name, selector in shown.items():
            self.query_one(selector).display = name == step
        self.query_one("#hint", Label).update(HINTS[step])
        if step == "cancel":  # the safe answer first, each time it asks
            self.query_one("#confirm", OptionList).highlighted = 1
        self.query_one(shown[step]).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick":
            return self.step == "choose"
        return True

    def action_pick(self, choice: str) -> None:
        if choice == "skip":
            self._decide("skip", done=f"Skipped task {self.task_id}.")
        elif choice == "reassign" and not self.agents:
            self.notify("No other agent still runs to take the task over.", severity="warning")
        else:
            self.step = choice

    def action_back(self) -> None:
        if self.step == "choose":
            self.dismiss(None)
        else:
            self.step = "choose"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        picked = event.option.id or ""
        if event.option_list.id == "choices":
            self.action_pick(picked)
        elif event.option_list.id == "agents":
            self._decide("reassign", agent=picked,
                         done=f"Task {self.task_id} given to {picked}.")
        elif picked == "yes":
            self.dismiss(Decision(self.interrupt.id, "command", "cancel", command={
                "type": "answer", "interrupt": self.interrupt.id, "text": "cancel"},
                done="Cancelled the run's tasks."))
        else:
            self.step = "choose"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        note = event.value.strip()
        self._decide("retry", text=note, done=f"Task {self.task_id} retried"
                     + (" with your note." if note else "."))

    def _decide(self, action: str, *, agent: str | None = None, text: str = "",
                done: str) -> None:
        command: dict[str, Any] = {"type": "task", "action": action, "task": self.task_id,
                                   "text": text}
        if agent is not None:
            command["agent"] = agent
        self.dismiss(Decision(self.interrupt.id, "command", text, command=command, done=done))
