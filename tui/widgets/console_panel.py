"""Console: the selected agent's sandbox output, streamed in batches, bounded.

Long lines wrap at the panel's width by default (`w` toggles; unwrapped, Left/Right
scroll a page at a time).  Widths are terminal cells (Rich's `cell_len`), so wide
characters do not push a line past the edge.  When the scrollback dropped old lines,
the border says how many are left in the store.
"""

from __future__ import annotations

from collections import deque

from rich.cells import cell_len, chop_cells
from rich.highlighter import Highlighter
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Log

from tui.console_buffers import (
    COMMAND_PREFIX,
    DEFAULT_SCROLLBACK,
    ERROR_PREFIX,
    EXIT_PREFIX,
    SAID_PREFIX,
)
from tui.safe_text import safe_text

CONTINUATION = "↪ "  # starts the second and later rows of a wrapped line


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
        elif plain.startswith(CONTINUATION):
            text.stylize("dim", 0, len(CONTINUATION))


def wrap_line(line: str, width: int) -> list[str]:
    """``line`` in rows of at most ``width`` cells; rows after the first are marked."""
    if len(line) <= width // 2 or cell_len(line) <= width:  # the common case, cheaply
        return [line]
    first, *rest = chop_cells(line, width)
    inner = max(width - len(CONTINUATION), 1)
    rows = [first]
    for piece in chop_cells("".join(rest), inner):
        rows.append(CONTINUATION + piece)
    return rows


class ConsolePanel(Log):
    DEFAULT_CSS = """
    ConsolePanel { height: 1fr; overflow: auto auto; }
    """
    BINDINGS = [
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("left", "page_left", "", show=False),
        Binding("right", "page_right", "", show=False),
    ]

    def __init__(self, scrollback: int = DEFAULT_SCROLLBACK, **kwargs) -> None:
        super().__init__(max_lines=scrollback, highlight=True, auto_scroll=True, **kwargs)
        self.highlighter = ConsoleHighlighter()
        self.agent: str | None = None
        self.border_title = "Console"
        self.wrap = True
        self._raw: deque[str] = deque(maxlen=scrollback)  # the lines as they came
        self._dropped = 0  # lines of this agent no longer in the scrollback
        self._wrapped_at = 0

    # -- what is drawn -----------------------------------------------------------
    def _wrap_width(self) -> int:
        return max(self.scrollable_content_region.width or self.size.width, 10)

    def _rows(self, lines: list[str]) -> list[str]:
        if not self.wrap:
            return lines
        width = self._wrap_width()
        out: list[str] = []
        for line in lines:
            out.extend(wrap_line(line, width))
        return out

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        """The widest line in cells, measured here (Textual's version measures every new
        line in a thread, which under a flood holds the GIL for long)."""
        if lines:
            widest = self._wrap_width() if self.wrap else max(map(cell_len, lines))
            self._update_maximum_width(updates, widest)

    def _redraw(self) -> None:
        self.clear()
        self._wrapped_at = self._wrap_width()
        if self._raw:
            self.write_lines(self._rows(list(self._raw)))
        self._retitle()

    def _retitle(self) -> None:
        self.border_title = safe_text(f"Console · {self.agent}" if self.agent else "Console")
        dropped = f"… {self._dropped:,} earlier lines in the store" if self._dropped else ""
        mode = "" if self.wrap else "no wrap (w) · ←→ page"
        self.border_subtitle = " · ".join(p for p in (dropped, mode) if p)

    # -- fed by the app ------------------------------------------------------------
    def show_agent(self, agent: str | None, lines: list[str], total: int | None = None) -> None:
        """Switch to another agent's console and draw its scrollback (``total``: the
        lines it ever had, to say how many were dropped)."""
        self.agent = agent
        self._raw.clear()
        self._raw.extend(lines)
        seen = len(lines) if total is None else total
        self._dropped = max(seen - len(self._raw), 0)
        self._redraw()

    def append(self, lines: list[str], missed: int = 0) -> None:
        """One batch of new lines (one write_lines per flush); ``missed`` lines came
        and left the scrollback before this batch."""
        maxlen = self._raw.maxlen or 0
        self._dropped += missed + (max(len(self._raw) + len(lines) - maxlen, 0) if maxlen else 0)
        self._raw.extend(lines)
        if self.max_lines is not None and len(lines) > self.max_lines:
            lines = lines[-self.max_lines:]
        self.write_lines(self._rows(lines))
        if self._dropped:
            self._retitle()

    # -- keys and size -----------------------------------------------------------
    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._redraw()
        self.notify("Console lines wrap." if self.wrap else
                    "Console lines no longer wrap: ← → scroll a page sideways.", timeout=3)

    def action_page_left(self) -> None:
        self.scroll_to(x=max(self.scroll_x - self._page(), 0), animate=False)

    def action_page_right(self) -> None:
        self.scroll_to(x=self.scroll_x + self._page(), animate=False)

    def _page(self) -> int:
        return max(self.scrollable_content_region.width - 4, 1)

    def on_resize(self) -> None:
        if self.wrap and self._wrap_width() != self._wrapped_at:
            self._redraw()
