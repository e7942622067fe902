"""Messages: the team's message log; filter to the selected agent; Enter reads one."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tui.presentation import message_row
from tui.safe_text import safe_text
from tui.state import MessageView
from tui.widgets.flex_table import FlexTable


class MessagesPanel(FlexTable):
    DEFAULT_CSS = """
    MessagesPanel { height: 1fr; }
    """
    BINDINGS = [
        Binding("enter", "select_cursor", "Read"),
        Binding("f", "toggle_filter", "Filter"),
    ]
    COLUMNS = (("Time", "time", 8), ("From → To", "route", 18), ("Kind", "kind", 7),
               ("Text", "text", 0))
    NARROW_HIDDEN = frozenset({"time"})
    FIT = {"route": 32}
    NARROW_BELOW = 60

    class MessageOpened(Message):
        def __init__(self, message: MessageView) -> None:
            super().__init__()
            self.message = message

    class FilterToggled(Message):
        """The person asked to filter the log to the selected agent (or stop)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Messages"
        self.filter_agent: str | None = None
        self._messages: dict[str, MessageView] = {}

    def _visible(self, msg: MessageView) -> bool:
        return self.filter_agent is None or msg.involves(self.filter_agent)

    def add_message(self, msg: MessageView) -> None:
        self._messages[msg.id] = msg
        if self._visible(msg):
            follow = not self.has_focus or self.cursor_row >= self.row_count - 1
            self.put_row(msg.id, message_row(msg))
            if follow and self.row_count:
                self.move_cursor(row=self.row_count - 1, animate=False)

    def set_filter(self, agent: str | None) -> None:
        """Show only messages from or to ``agent`` (None: all)."""
        self.filter_agent = agent
        self.border_title = safe_text(f"Messages · {agent} only" if agent else "Messages")
        self.reset_rows({m.id: message_row(m) for m in self._messages.values()
                         if self._visible(m)})
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def action_toggle_filter(self) -> None:
        self.post_message(self.FilterToggled())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        msg = self._messages.get(event.row_key.value or "")
        if msg is not None:
            self.post_message(self.MessageOpened(msg))
