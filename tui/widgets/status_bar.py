"""The header: team, run, sandbox backend (LOCAL is unmistakable), counts, totals."""

from __future__ import annotations

from textual.widgets import Static

from tui.state import RunState
from tui.status_line import status_bar_text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; }
    """

    _state: RunState | None = None

    def show(self, state: RunState) -> None:
        self._state = state
        self.update(status_bar_text(state, self.size.width or self.app.size.width))

    def on_resize(self) -> None:
        if self._state is not None:
            self.show(self._state)
