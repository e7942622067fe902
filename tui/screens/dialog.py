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
