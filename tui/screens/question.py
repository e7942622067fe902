"""A question from an agent (`ask_user`): pick an option or type an answer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static

from tui.decisions import Decision
from tui.safe_text import safe_text
from tui.screens.dialog import InterruptDialog


class TextAnswerScreen(InterruptDialog):
    """Shared by questions and debug requests: a prompt and a free-text answer."""

    heading = "Question"
    placeholder = "Type your answer; Enter sends it"

    def compose(self) -> ComposeResult:
        intr = self.interrupt
        with Vertical(id="dialog") as box:
            box.border_title = safe_text(f"{self.heading} from {intr.agent} · {intr.id}")
            yield Static(safe_text(intr.prompt), id="prompt")
            yield from self.compose_extra()
            yield Input(placeholder=self.placeholder, id="answer")
            yield Label(self.hint(), classes="hint")

    def compose_extra(self) -> ComposeResult:
        return iter(())

    def hint(self) -> str:
        return "Enter send · Esc answer later"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("Type an answer first (Esc answers later).", severity="warning")
            return
        self.dismiss(Decision(self.interrupt.id, "answer", text))


class QuestionScreen(TextAnswerScreen):
    heading = "Question"
    BINDINGS = [Binding("escape", "close", "Later")]

    def compose_extra(self) -> ComposeResult:
        if self.interrupt.options:
            yield OptionList(*map(safe_text, self.interrupt.options), id="options")

    def hint(self) -> str:
        if self.interrupt.options:
            return "↑↓ choose · Enter answer · Tab type your own · Esc later"
        return super().hint()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        # the option as the agent wrote it, not as shown (control characters visible)
        self.dismiss(Decision(self.interrupt.id, "answer",
                              self.interrupt.options[event.option_index]))
