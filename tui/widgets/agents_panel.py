"""Agents: one row per agent, updated in place by row key, never rebuilt."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tui.presentation import agent_row
from tui.safe_text import safe_text
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
        self.overlaps: dict[str, set[str]] = {}  # agent -> agents that changed the same files

    def upsert(self, agent: AgentView) -> None:
        row = agent_row(agent)
        others = self.overlaps.get(agent.id)
        if others:  # it changed a file another agent changed too: merging both may conflict
            row["id"] = Text.assemble(row["id"], (" ⚠", "bold yellow"))
            activity = row["activity"]
            gap = " · " if isinstance(activity, Text) and activity.plain else ""
            row["activity"] = Text.assemble(
                ("⚠ ", "bold yellow"), safe_text(f"same files as {', '.join(sorted(others))}{gap}",
                                                 "yellow"), activity)
        self.put_row(agent.id, row)

    def mark_overlap(self, pair: list[str]) -> list[str]:
        """Two agents changed the same file (a `notice` with `overlap`): mark both rows;
        the agents whose rows changed."""
        agents = [a for a in pair if isinstance(a, str)]
        for a in agents:
            self.overlaps.setdefault(a, set()).update(b for b in agents if b != a)
        return agents

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.AgentHighlighted(event.row_key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.AgentChosen(event.row_key.value))
