"""The base of every modal: a centred, titled dialog that Esc closes."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer

if TYPE_CHECKING:
    from tui.decisions import Decision  # noqa: F401 - in a string annotation
    from tui.state import InterruptView

R = TypeVar("R")


class Dialog(ModalScreen[R]):
    """A modal dialog; subclasses compose inside a `#dialog` container."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def on_mount(self) -> None:
        self.mount(Footer())  # the keys of this dialog, not of the screen below
        if not getattr(self.app, "blink_cursors", True):  # deterministic screenshots
            for widget in self.query("Input, TextArea"):
                widget.cursor_blink = False  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)


class InterruptDialog(Dialog["Decision | None"]):
    """A dialog about one interrupt; it ends with the person's Decision (or None: later)."""

    def __init__(self, interrupt: InterruptView) -> None:
        super().__init__()
        self.interrupt = interrupt

    def typed_text(self) -> str:
        """What the person typed so far (every text field of the dialog), to keep it
        when the interrupt goes away while the dialog is open."""
        from textual.widgets import Input, TextArea

        parts = [w.value.strip() for w in self.query(Input) if w.display and w.value.strip()]
        parts += [w.text.strip() for w in self.query(TextArea)
                  if w.display and not w.read_only and w.text.strip()
                  and w.text.strip() != self.initial_text(w)]
        return "\n".join(parts)

    def initial_text(self, area: object) -> str:
        """The text an editor started with (unchanged, it is not something typed)."""
        return ""
