"""A command or file write to approve: the whole command (numbered lines, line breaks
made visible, scrollable), the files it runs or writes, and the rule that triggered;
approve, or reject with a reason.  Every agent string is plain Text, never markup."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from engine.control_chars import visible_line as visible
from tui.decisions import Decision
from tui.screens.dialog import InterruptDialog
from tui.state import InterruptView

VIEW_HINT = "a approve · r reject with a reason · ↑↓ PgUp PgDn scroll · Esc later"
REJECT_HINT = "Enter reject · Esc back"
NEWLINE_MARK = "⏎"
def numbered_lines(text: str) -> Text:
    """One row per line: its number, then the line; ⏎ ends every line a break follows."""
    lines = text.split("\n")
    width = len(str(len(lines)))
    out = Text()
    for number, line in enumerate(lines, 1):
        out.append(f"{number:>{width}} │ ", style="dim")
        out.append(visible(line))
        if number < len(lines):
            out.append(NEWLINE_MARK, style="bold magenta")
            out.append("\n")
    return out


def multiline_warning(command: str) -> Text | None:
    lines = command.count("\n") + 1
    if lines == 1:
        return None
    return Text(f"⚠ This command spans {lines} lines: read all of it (scroll) before approving.",
                style="bold red")


#: a command longer than this is not approved from the list: its row shows only a part
LIST_APPROVAL_CHARS = 60


def fully_shown_in_the_list(intr: InterruptView) -> bool:
    """Whether the Interrupts row shows everything the person approves (a short one-line
    command, no file); otherwise `a` on the row opens this dialog instead of approving."""
    if intr.kind != "command_approval":
        return True
    return not intr.files and not intr.path and "\n" not in intr.command \
        and len(intr.command) <= LIST_APPROVAL_CHARS and intr.command.isprintable()


class CommandScreen(InterruptDialog):
    AUTO_FOCUS = "#command-box"  # arrows and PgUp/PgDn scroll the command; a/r still act
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
        with Vertical(id="dialog", classes="wide") as box:
            what = {"budget": "Budget reached", "disk": "Workspace full"}.get(
                intr.kind, "File write approval" if intr.path else "Command approval")
            box.border_title = Text(f"{what} · {intr.agent} · {intr.id}")
            yield from self._what(intr)
            yield Static(Text.assemble("Why it needs you: ", (
                visible(intr.reason or "approval required"), "yellow")), id="reason")
            yield Input(placeholder="Reason for rejecting (sent to the agent)", id="feedback")
            yield Label(VIEW_HINT, classes="hint", id="hint")

    def _what(self, intr: InterruptView) -> ComposeResult:
        agent = Text(visible(intr.agent), style="bold")
        if intr.path:
            yield Static(Text.assemble(agent, " wants to write: ", visible(intr.path)), id="prompt")
        elif intr.command:
            yield Static(Text.assemble(agent, " wants to run:"), id="prompt")
            warning = multiline_warning(intr.command)
            if warning is not None:
                yield Static(warning, id="multiline")
            with VerticalScroll(id="command-box", classes="code"):
                yield Static(numbered_lines(intr.command), id="command")
        else:
            yield Static(Text(visible(intr.prompt)), id="prompt")
        for index, (path, content) in enumerate(intr.files):
            label = "the content to write" if intr.path else f"{visible(path)}, which it runs"
            yield Static(Text(f"{label}:", style="bold"), classes="file-title")
            with VerticalScroll(id=f"file-box-{index}", classes="code file-box"):
                yield Static(numbered_lines(content), classes="file")

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
            boxes = self.query(".code")
            self.set_focus(boxes.first() if boxes else None)

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
