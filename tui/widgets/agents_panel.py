"""Agents: one row per agent, updated in place by row key, never rebuilt."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tui.presentation import agent_row
from tui.state import AgentView
from tui.widgets.flex_table import FlexTable


class AgentsPanel(FlexTable):
    DEFAULT_CSS = """
    AgentsPanel { height: auto; max-height: 40%; min-height: 4; }
    """
    BINDINGS = [Binding("enter", "select_cursor", "Detail", show=False)]
    COLUMNS = (("Agent", "id", 10), ("Type", "type", 9), ("Status", "status", 17),
               ("Activity", "activity", 0), ("Calls", "calls", 5), ("Tokens", "tokens", 6),
               ("Cost", "cost", 7), ("Sandbox", "sandbox", 12))
    NARROW_HIDDEN = frozenset({"type", "tokens", "cost"})  # totals stay in the status bar
    FIT = {"id": 24}

    class AgentHighlighted(Message):
        """The cursor moved to another agent: select it everywhere."""

        def __init__(self, agent: str) -> None:
            super().__init__()
            self.agent = agent

    class AgentChosen(Message):
        """Enter on an agent: open its detail view."""

        def __init__(self, agent: str) -> None:
            super().__init__()
            self.agent = agent

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Agents"

    def upsert(self, agent: AgentView) -> None:
        self.put_row(agent.id, agent_row(agent))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.AgentHighlighted(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.AgentChosen(event.row_key.value))
