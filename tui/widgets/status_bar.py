"""The header: team, run, sandbox backend (LOCAL is unmistakable), counts, totals."""

from __future__ import annotations

from textual.widgets import Static

from tui.presentation import status_bar_text
from tui.state import RunState


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; }
    """

    def show(self, state: RunState) -> None:
        self.update(status_bar_text(state))
