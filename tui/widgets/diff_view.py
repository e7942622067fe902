"""The unified diff of an agent's changes: line-API scrolling, so only the visible lines
are ever styled (a 5,000-line diff opens as fast as a 50-line one), with a cursor line,
syntax colours by file name and search matches highlighted.

Every line is the agent's text: tabs expanded, control characters made visible
(`visible_controls`), never parsed as markup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.control_chars import visible_controls
from engine.workspace_diff import AgentDiff

if TYPE_CHECKING:
    from pygments.lexer import Lexer

TAB = 4
MAX_WIDTH = 2000  # cells of the widest line we scroll to (longer lines are cut)
ADDED_BG, REMOVED_BG = Style(bgcolor="#12331d"), Style(bgcolor="#3b1618")
CURSOR = Style(bgcolor="#2c3a57")
MATCH = Style(bgcolor="#a08000", color="black")
_THEME = Syntax.get_theme("monokai")


@lru_cache(maxsize=64)
def lexer_for(path: str) -> Lexer | None:
    """The Pygments lexer for a file name (None: no colours), one instance per name."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        return get_lexer_for_filename(path.rsplit("/", 1)[-1], stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=512)
def token_style(token_type: object) -> Style:
    """The theme's colour of a token, without its background (the +/- shading shows)."""
    style = _THEME.get_style_for_token(token_type)
    return Style(color=style.color, bold=style.bold, italic=style.italic)


def shown(line: str) -> str:
    """A diff line as shown: tabs expanded, control characters visible, bounded."""
    return visible_controls(line.expandtabs(TAB))[:MAX_WIDTH]


def styled_line(line: str, lexer: Lexer | None) -> Text:
    """One diff line as styled `Text` (plain text; never markup)."""
    text = shown(line)
    if line.startswith("diff --git "):
        return Text(text, style="bold #e0e0e0 on #303030")
    if line.startswith(("+++ ", "--- ", "index ", "new file mode", "deleted file mode",
                        "old mode", "new mode", "rename ", "similarity ", "Binary files")):
        return Text(text, style="bold #b0b0b0")
    if line.startswith("@@"):
        return Text(text, style="cyan")
    mark, body = text[:1], text[1:]
    if mark not in ("+", "-", " ") or lexer is None or not body.strip():
        style = {"+": "green", "-": "red"}.get(mark, "")
        return Text(text, style=style)
    out = Text(mark, style={"+": "bold green", "-": "bold red"}.get(mark, ""))
    for token_type, value in lexer.get_tokens(body):
        out.append(value.rstrip("\n"), token_style(token_type))
    return out


class DiffView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    DiffView { height: 1fr; background: $surface; }
    DiffView:focus { border: none; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "", show=False),
        Binding("pagedown,space", "page(1)", "", show=False),
        Binding("home,g", "jump(0)", "", show=False),
        Binding("end,G", "jump(-1)", "", show=False),
        Binding("left", "scroll_left", "", show=False),
        Binding("right", "scroll_right", "", show=False),
        Binding("right_square_bracket", "next_file(1)", "Next file", show=False),
        Binding("left_square_bracket", "next_file(-1)", "Prev file", show=False),
        Binding("n", "next_match(1)", "Next match", show=False),
        Binding("N", "next_match(-1)", "Prev match", show=False),
    ]

    class CursorMoved(Message):
        """The cursor line changed (the screen shows which file and hunk it is in)."""

        def __init__(self, line: int) -> None:
            super().__init__()
            self.line = line

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.diff: AgentDiff | None = None
        self.cursor = 0
        self.search = ""
        self._lexers: list[Lexer | None] = []  # per line: the lexer of its file
        self._cache: dict[int, Text] = {}

    # -- content -------------------------------------------------------------------------
    def show_diff(self, diff: AgentDiff) -> None:
        self.diff = diff
        self._cache.clear()
        self._lexers = [None] * len(diff.lines)
        for f in diff.files:
            lexer = None if f.binary else lexer_for(f.path)
            if lexer is not None:
                self._lexers[f.start:f.end] = [lexer] * (f.end - f.start)
        width = max((len(line.expandtabs(TAB)) for line in diff.lines), default=0)
        self.virtual_size = Size(min(width, MAX_WIDTH), len(diff.lines))
        self.cursor = 0
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    @property
    def line_count(self) -> int:
        return len(self.diff.lines) if self.diff else 0

    def _text(self, index: int) -> Text:
        text = self._cache.get(index)
        if text is None:
            if len(self._cache) > 4000:
                self._cache.clear()
            text = self._cache[index] = styled_line(self.diff.lines[index], self._lexers[index])
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if self.diff is None or index >= self.line_count:
            return Strip.blank(width, self.rich_style)
        text = self._text(index)
        if self.search:
            text = text.copy()
            text.highlight_words([self.search], style=MATCH, case_sensitive=False)
        line = self.diff.lines[index]
        base = self.rich_style
        if index == self.cursor and self.has_focus:
            base = base + CURSOR
        elif line.startswith("+") and not line.startswith("+++ "):
            base = base + ADDED_BG
        elif line.startswith("-") and not line.startswith("--- "):
            base = base + REMOVED_BG
        segments = list(Segment.apply_style(text.render(self.app.console), base))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)

    # -- cursor and scrolling ------------------------------------------------------------
    def move_to(self, line: int, top: bool = False) -> None:
        if not self.line_count:
            return
        self.cursor = max(0, min(line, self.line_count - 1))
        height = self.scrollable_content_region.height or 1
        if top or self.cursor < self.scroll_offset.y:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= self.scroll_offset.y + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh()
        self.post_message(self.CursorMoved(self.cursor))

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)
        self.scroll_to(y=self.scroll_offset.y + delta * height, animate=False)
        self.move_to(self.cursor + delta * height)

    def action_jump(self, where: int) -> None:
        self.move_to(self.line_count - 1 if where < 0 else where)

    def action_next_file(self, delta: int) -> None:
        if self.diff is None or not self.diff.files:
            return
        current = self.diff.file_at(self.cursor) or 0
        target = max(0, min(current + delta, len(self.diff.files) - 1))
        self.move_to(self.diff.files[target].start, top=True)

    # -- search ----------------------------------------------------------------------------
    def find(self, term: str, delta: int = 1, from_cursor: bool = False) -> bool:
        """Move to the next (``delta`` 1) or previous (-1) line holding ``term``."""
        self.search = term
        self.refresh()
        if not term or self.diff is None:
            return False
        needle = term.lower()
        n = self.line_count
        start = self.cursor if from_cursor else self.cursor + delta
        for step in range(n):
            index = (start + step * delta) % n
            if needle in shown(self.diff.lines[index]).lower():
                self.move_to(index)
                return True
        return False

    def action_next_match(self, delta: int) -> None:
        if self.search and not self.find(self.search, delta):
            self.notify(f"No line holds {self.search!r}.", severity="warning", timeout=3)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_click(self, event) -> None:
        self.move_to(self.scroll_offset.y + event.y)
