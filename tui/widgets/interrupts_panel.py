"""Interrupts: what waits for the person, oldest first, blocking ones marked."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tui.presentation import interrupt_row, interrupts_title
from tui.state import InterruptView
from tui.widgets.flex_table import FlexTable

APPROVABLE = ("plan_approval", "command_approval", "budget", "disk")


class InterruptsPanel(FlexTable):
    DEFAULT_CSS = """
    InterruptsPanel { height: 1fr; min-height: 5; }
    """
    BINDINGS = [
        Binding("enter", "select_cursor", "Answer"),
        Binding("a", "approve", "Approve"),
        Binding("r", "reject", "Reject"),
    ]

    class InterruptOpened(Message):
        """Open the modal that answers this interrupt."""

        def __init__(self, interrupt: InterruptView, action: str = "open") -> None:
            super().__init__()
            self.interrupt = interrupt
            self.action = action  # open | approve | reject

    COLUMNS = (("", "blocking", 1), ("Agent", "agent", 10), ("Kind", "kind", 8),
               ("What", "what", 0))

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = interrupts_title(0)
        self._items: dict[str, InterruptView] = {}

    @property
    def count(self) -> int:
        return len(self._items)

    def add_interrupt(self, intr: InterruptView) -> None:
        if intr.id in self._items:
            return
        self._items[intr.id] = intr
        self.put_row(intr.id, interrupt_row(intr))
        self._retitle()
        if not self.has_focus:
            self.add_class("-attention")

    def remove_interrupt(self, interrupt_id: str) -> None:
        if self._items.pop(interrupt_id, None) is None:
            return
        self.drop_row(interrupt_id)
        self._retitle()
        if not self._items:
            self.remove_class("-attention")

    def _retitle(self) -> None:
        self.border_title = interrupts_title(self.count)

    def on_focus(self) -> None:
        self.remove_class("-attention")

    def current(self) -> InterruptView | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._items.get(key or "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        intr = self._items.get(event.row_key.value or "")
        if intr is not None:
            self.post_message(self.InterruptOpened(intr))

    def _act(self, action: str) -> None:
        intr = self.current()
        if intr is None:
            self.notify("Nothing waits for you.", severity="information")
        elif intr.kind not in APPROVABLE:
            self.notify(f"{intr.id} is a {intr.kind.replace('_', ' ')}: press Enter to answer it.",
                        severity="warning")
        else:
            self.post_message(self.InterruptOpened(intr, action))

    def action_approve(self) -> None:
        self._act("approve")

    def action_reject(self) -> None:
        self._act("reject")
