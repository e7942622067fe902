"""Console: the selected agent's sandbox output, streamed in batches, bounded."""

from __future__ import annotations

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

from tui.console_buffers import (
    COMMAND_PREFIX,
    DEFAULT_SCROLLBACK,
    ERROR_PREFIX,
    EXIT_PREFIX,
    SAID_PREFIX,
)
from tui.safe_text import safe_text


class ConsoleHighlighter(Highlighter):
    """Commands (`$ …`) and exit lines (`[exit N]`) stand out from the output; what the
    model says (`› …`) is set apart from both."""

    def highlight(self, text: Text) -> None:
        plain = text.plain
        if plain.startswith(SAID_PREFIX):
            text.stylize("italic dim")
            text.stylize("not dim bold magenta", 0, len(SAID_PREFIX))
        elif plain.startswith(ERROR_PREFIX):
            text.stylize("bold red")
        elif plain.startswith(COMMAND_PREFIX):
            text.stylize("bold cyan")
        elif plain.startswith(EXIT_PREFIX):
            text.stylize("green" if plain.startswith(EXIT_PREFIX + "0]") else "bold red")


class ConsolePanel(Log):
    DEFAULT_CSS = """
    ConsolePanel { height: 1fr; }
    """

    def __init__(self, scrollback: int = DEFAULT_SCROLLBACK, **kwargs) -> None:
        super().__init__(max_lines=scrollback, highlight=True, auto_scroll=True, **kwargs)
        self.highlighter = ConsoleHighlighter()
        self.agent: str | None = None
        self.border_title = "Console"

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        """Width from character counts, in the loop: Textual's version measures every
        new line's cells in a thread, which under a flood holds the GIL for long."""
        if lines:
            self._update_maximum_width(updates, max(map(len, lines)))

    def show_agent(self, agent: str | None, lines: list[str]) -> None:
        """Switch to another agent's console and draw its scrollback."""
        self.agent = agent
        self.border_title = safe_text(f"Console · {agent}" if agent else "Console")
        self.clear()
        if lines:
            self.write_lines(lines[-(self.max_lines or len(lines)):])

    def append(self, lines: list[str]) -> None:
        """One batch of new lines (one write_lines per flush)."""
        if self.max_lines is not None and len(lines) > self.max_lines:
            lines = lines[-self.max_lines:]
        self.write_lines(lines)
