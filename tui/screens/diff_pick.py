"""A dialog that picks one item from a list (a merge mode, a checkpoint to roll back
to or to compare from); it ends with the chosen item's id, or None."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.safe_text import safe_text
from tui.screens.dialog import Dialog


class PickScreen(Dialog[str | None]):
    BINDINGS = [Binding("escape", "close", "Cancel")]

    def __init__(self, title: str, text: str, options: list[tuple[str, Text]],
                 default: str | None = None, hint: str = "Enter choose · Esc cancel") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.options = options
        self.default = default
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = safe_text(self.title_text)
            if self.text:
                yield Static(safe_text(self.text), id="prompt")
            yield OptionList(*[Option(label, id=key) for key, label in self.options], id="pick")
            yield Label(safe_text(self.hint), classes="hint")

    def on_mount(self) -> None:
        super().on_mount()
        pick = self.query_one(OptionList)
        keys = [key for key, _ in self.options]
        if self.default in keys:
            pick.highlighted = keys.index(self.default)
        pick.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
