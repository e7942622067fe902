"""Interrupts: what waits for the person, oldest first, blocking ones marked.

The highlighted row is kept by interrupt id: rows added or removed around it never
move the cursor to another interrupt.  If the highlighted interrupt itself goes
(answered elsewhere, expired, withdrawn), the next Enter, `a` or `r` says so and acts
on nothing; pressed again, it acts on the row now highlighted.
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from tui.presentation import interrupt_kind, interrupt_row, interrupts_title
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
               ("What", "what", 0), ("What", "kind_what", 0))
    #: a narrow panel puts the kind in front of the text instead of a column of its own
    NARROW_BELOW = 50
    NARROW_HIDDEN = frozenset({"kind", "what"})
    WIDE_HIDDEN = frozenset({"kind_what"})
    FIT = {"agent": 20}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = interrupts_title(0)
        self._items: dict[str, InterruptView] = {}
        self.selected_id: str | None = None  #: the interrupt the cursor is on
        self._gone: str | None = None  #: the highlighted interrupt that went away

    @property
    def count(self) -> int:
        return len(self._items)

    def add_interrupt(self, intr: InterruptView) -> None:
        if intr.id in self._items:
            return
        self._items[intr.id] = intr
        self.put_row(intr.id, interrupt_row(intr))
        self._retitle()
        if self.selected_id is None:
            self.selected_id = self._key_at_cursor()
        if not self.has_focus:
            self.add_class("-attention")

    def remove_interrupt(self, interrupt_id: str) -> None:
        if self._items.pop(interrupt_id, None) is None:
            return
        selected = self.selected_id
        self.drop_row(interrupt_id)
        if selected == interrupt_id:
            self._gone = interrupt_id
            self.selected_id = self._key_at_cursor()
        elif selected in self._items:
            self.select(selected)
        self._retitle()
        if not self._items:
            self.remove_class("-attention")

    def select(self, interrupt_id: str) -> bool:
        """Highlight ``interrupt_id``; False when it is not in the panel."""
        if interrupt_id not in self._items or self._narrow is None:
            return False
        self.move_cursor(row=self.get_row_index(interrupt_id), animate=False)
        self.selected_id = interrupt_id
        return True

    def next_blocking(self) -> InterruptView | None:
        """The oldest blocking interrupt, or the one after the highlighted one when the
        cursor is already on a blocking interrupt (repeat to go through them all)."""
        blocking = [i for i in self._items.values() if i.blocking]
        if not blocking:
            return None
        ids = [i.id for i in blocking]
        if self.selected_id in ids and self._gone is None:
            return blocking[(ids.index(self.selected_id) + 1) % len(blocking)]
        return blocking[0]

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        key = self._key_at_cursor()
        if key is not None and key != self.selected_id:
            self.selected_id = key
            self._gone = None

    def on_mount(self) -> None:
        super().on_mount()
        if not getattr(self.app, "live", True):  # a replay answers nothing (it says so
            bindings = self._bindings.key_to_bindings  # when asked): keys kept, not shown
            for key in ("enter", "a", "r"):
                bindings[key] = [replace(b, show=False) for b in bindings.get(key, [])]

    def move_cursor(self, *args, **kwargs) -> None:  # type: ignore[override]
        self._gone = None  # the person (or a test) chose a row: that one it is
        super().move_cursor(*args, **kwargs)

    def action_cursor_up(self) -> None:
        self._gone = None
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self._gone = None
        super().action_cursor_down()

    def _key_at_cursor(self) -> str | None:
        if not self.row_count:
            return None
        row = min(self.cursor_coordinate.row, self.row_count - 1)
        return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    def _retitle(self) -> None:
        self.border_title = interrupts_title(self.count)

    def on_focus(self) -> None:
        self.remove_class("-attention")

    def current(self) -> InterruptView | None:
        """The highlighted interrupt, or None (with a notice) when it just went away."""
        if self._gone is not None:
            gone, self._gone = self._gone, None
            now = self._items.get(self.selected_id or "")
            then = f"; the cursor is on {now.id} ({now.agent}'s {interrupt_kind(now.kind)}) " \
                   "now: press again to act on it" if now else ""
            self.notify(f"{gone} no longer waits (answered, expired or withdrawn){then}.",
                        severity="warning")
            return None
        return self._items.get(self.selected_id or "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        intr = self.current()
        if intr is not None:
            self.post_message(self.InterruptOpened(intr))

    def _act(self, action: str) -> None:
        if not self._items and self._gone is None:
            self.notify("Nothing waits for you.", severity="information")
            return
        intr = self.current()
        if intr is None:
            return
        if intr.kind not in APPROVABLE:
            self.notify(f"{intr.id} is a {interrupt_kind(intr.kind)}: press Enter to answer it.",
                        severity="warning")
        else:
            self.post_message(self.InterruptOpened(intr, action))

    def action_approve(self) -> None:
        self._act("approve")

    def action_reject(self) -> None:
        self._act("reject")
