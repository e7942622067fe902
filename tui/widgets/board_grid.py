"""The board's columns and cards as one Line API widget.

One widget draws every column: line 0 holds the headers (name, count, ↑↓ when cards
are above or below the view), every other line is one line of a card in each
column, joined with a thin rule.  Each column scrolls on its own and has its own
cursor; the focused column's cursor is the card Enter opens.  Cards are all the same
height (two lines compact, else three), so the card under a line is one division
away; a card's lines are drawn once per (change of its task, width, look) and
cached.  200 cards cost what the visible ones cost, and a screen of the board is one
strip per line, not one per column (Textual's compositor pays per strip).

Keys: ← → another column with cards, ↑ ↓ PgUp PgDn Home End another card, Enter the
card's history; a click opens a card, the wheel scrolls the column under the mouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tui.board_state import COLUMNS, TaskView
from tui.board_text import Piece, card_pieces, column_pieces

CACHE_CARDS = 2000  #: drawn cards kept (a few screens of every column)
EMPTY_WIDTH = 10  #: a narrow board's empty column: its header only
NARROW_BELOW = 100  #: cells: a narrower board shrinks its empty columns
RULE = "│"


@dataclass
class Column:
    key: str
    tasks: list[TaskView] = field(default_factory=list)
    top: int = 0  #: the first card in view
    cursor: int = 0
    shown: list[tuple[str, int]] = field(default_factory=list)  #: (id, changes) drawn

    @property
    def ids(self) -> list[str]:
        return [t.task_id for t in self.tasks]


class BoardGrid(Widget, can_focus=True):
    COMPONENT_CLASSES = {"board-grid--cursor", "board-grid--cursor-blurred",
                         "board-grid--header", "board-grid--header-current", "board-grid--rule"}
    DEFAULT_CSS = """
    BoardGrid { height: 1fr; }
    BoardGrid > .board-grid--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    BoardGrid > .board-grid--cursor-blurred { background: $block-cursor-blurred-background; }
    BoardGrid > .board-grid--header { background: $panel; }
    BoardGrid > .board-grid--header-current { background: $accent 30%; }
    BoardGrid > .board-grid--rule { color: $primary 30%; }
    """
    BINDINGS = [
        Binding("enter", "select", "History"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
        Binding("left", "column(-1)", "Column", show=False),
        Binding("right", "column(1)", "Column", show=False),
    ]

    class Selected(Message):
        """Enter or a click on a card."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.columns = [Column(key) for key, _ in COLUMNS]
        self.current = 0  #: the column the keys act on
        self.compact = False
        self._cache: dict[tuple, list[Strip]] = {}
        self._spans: list[tuple[int, int]] = []  #: (x, width) of each column
        self._looks: list[Style] = []  #: this frame's styles: base, cursor, blurred cursor,
        #                                 header, current header, rule

    # -- content -----------------------------------------------------------------------
    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def card_height(self) -> int:
        return 2 if self.compact else 3

    @property
    def cursor_id(self) -> str | None:
        col = self.columns[self.current]
        return col.tasks[col.cursor].task_id if col.tasks else None

    def set_cards(self, by_column: dict[str, list[TaskView]], compact: bool) -> None:
        """Show these cards; each cursor stays on its card wherever the card went in its
        column.  Nothing is repainted when nothing shown changed."""
        resized = compact != self.compact  # every card gets another height
        if resized:
            self.compact = compact
            self._cache.clear()
        changed = resized
        emptied = False
        for col in self.columns:
            tasks = by_column.get(col.key, [])
            shown = [(t.task_id, len(t.changes)) for t in tasks]
            if shown == col.shown and not resized:
                continue
            emptied |= bool(col.shown) != bool(shown)
            keep = col.tasks[col.cursor].task_id if col.cursor < len(col.tasks) else None
            col.tasks, col.shown = tasks, shown
            ids = col.ids
            col.cursor = ids.index(keep) if keep in ids else min(col.cursor, max(len(ids) - 1, 0))
            self._clamp(col)
            changed = True
        if emptied:
            self._lay_out()
        if not self.columns[self.current].tasks and self.has_focus:
            self._step_column(1) or self._step_column(-1)
        if len(self._cache) > CACHE_CARDS:
            self._cache.clear()
        if changed:
            self.refresh()

    # -- geometry ----------------------------------------------------------------------
    @property
    def per_page(self) -> int:
        return max(1, (self.size.height - 1) // self.card_height)

    def _clamp(self, col: Column) -> None:
        """Keep the cursor in view (and no empty space below the last card)."""
        per_page = self.per_page
        col.top = min(col.top, col.cursor)
        col.top = max(col.top, col.cursor - per_page + 1)
        col.top = max(0, min(col.top, len(col.tasks) - per_page))

    def _lay_out(self) -> None:
        """Each column's x and width: equal shares of what the rules leave (on a narrow
        board an empty column gets only its header's width)."""
        width = self.size.width
        narrow = width < NARROW_BELOW
        fixed = {i: EMPTY_WIDTH for i, c in enumerate(self.columns) if narrow and not c.tasks}
        free = width - (len(self.columns) - 1) - sum(fixed.values())
        flexible = len(self.columns) - len(fixed)
        spans, x = [], 0
        for i in range(len(self.columns)):
            if i in fixed:
                w = fixed[i]
            else:
                w = free // flexible if flexible else 0
                free, flexible = free - w, flexible - 1
            spans.append((x, max(w, 0)))
            x += w + 1
        self._spans = spans
        self.refresh()

    def on_resize(self) -> None:
        self._lay_out()
        for col in self.columns:
            self._clamp(col)

    # -- drawing -----------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        self._take_looks()
        return super().render_lines(crop)

    def _take_looks(self) -> None:
        """The styles, once per frame rather than per column and line (each lookup
        walks the DOM)."""
        base = self.rich_style
        self._looks = [base] + [base + self.get_component_rich_style(name) for name in (
            "board-grid--cursor", "board-grid--cursor-blurred", "board-grid--header",
            "board-grid--header-current", "board-grid--rule")]
        if not self._spans:
            self._lay_out()

    def render_line(self, y: int) -> Strip:
        if not self._looks:
            self._take_looks()
        base, rule = self._looks[0], Segment(RULE, self._looks[5])
        segments: list[Segment] = []
        for i, (col, (_, width)) in enumerate(zip(self.columns, self._spans, strict=True)):
            if i:
                segments.append(rule)
            if width <= 0:
                continue
            strip = self._header(i, width) if y == 0 else self._card_line(col, i, y - 1, width)
            segments.extend(strip)
        return Strip(segments).extend_cell_length(self.size.width, base)

    def _card_line(self, col: Column, i: int, row: int, width: int) -> Strip:
        index, line = divmod(row, self.card_height)
        index += col.top
        if index >= len(col.tasks):
            return Strip.blank(width, self._looks[0])
        task = col.tasks[index]
        look = 0
        if index == col.cursor and i == self.current:
            look = 1 if self.has_focus else 2
        key = (task.task_id, len(task.changes), width, look, self.card_height)
        strips = self._cache.get(key)
        if strips is None:
            strips = self._cache[key] = [self._fit(pieces, width, self._looks[look])
                                         for pieces in card_pieces(task, self.compact)]
        return strips[line]

    def _header(self, i: int, width: int) -> Strip:
        col = self.columns[i]
        style = self._looks[4 if i == self.current and self.has_focus else 3]
        marks = ("↑" if col.top > 0 else "") + \
            ("↓" if col.top + self.per_page < len(col.tasks) else "")
        return self._fit(column_pieces(col.key, col.tasks), width, style, marks)

    @staticmethod
    def _fit(pieces: list[Piece], width: int, base: Style, right: str = "") -> Strip:
        """One line of ``width`` cells: a space, the pieces (cut with an ellipsis where
        they do not fit), ``right`` at the end.  Built from segments directly: a card is
        drawn for every change of its task, rich's text layout costs ten times this."""
        segments = [Segment(" ", base)]
        room = width - 1 - cell_len(right)
        for text, style in pieces:
            if room <= 0:
                break
            cells = cell_len(text)
            if cells > room:
                text, cells = set_cell_size(text, room - 1) + "…", room
            segments.append(Segment(text, base + Style.parse(style) if style else base))
            room -= cells
        if room > 0:
            segments.append(Segment(" " * room, base))
        if right:
            segments.append(Segment(right, base + Style(bold=True)))
        return Strip(segments).crop_extend(0, width, base)

    def notify_style_update(self) -> None:
        self._cache.clear()
        super().notify_style_update()

    def on_focus(self) -> None:
        if not self.columns[self.current].tasks:
            self._step_column(1)
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- keys and mouse ----------------------------------------------------------------
    def _go(self, col: Column, index: int) -> None:
        if col.tasks:
            col.cursor = max(0, min(index, len(col.tasks) - 1))
            self._clamp(col)
            self.refresh()

    def action_move(self, step: int) -> None:
        col = self.columns[self.current]
        self._go(col, col.cursor + step)

    def action_page(self, step: int) -> None:
        col = self.columns[self.current]
        self._go(col, col.cursor + step * self.per_page)

    def action_move_to(self, index: int) -> None:
        col = self.columns[self.current]
        self._go(col, index if index >= 0 else len(col.tasks) - 1)

    def action_column(self, step: int) -> None:
        self._step_column(step)

    def _step_column(self, step: int) -> bool:
        """Make the next column with cards (after or before this one) the current one."""
        i = self.current + step
        while 0 <= i < len(self.columns):
            if self.columns[i].tasks:
                self.current = i
                self.refresh()
                return True
            i += step
        return False

    def select_task(self, task_id: str) -> bool:
        """Put the cursor on ``task_id``'s card; False when no column has it."""
        for i, col in enumerate(self.columns):
            if task_id in col.ids:
                self.current = i
                self._go(col, col.ids.index(task_id))
                return True
        return False

    def action_select(self) -> None:
        task_id = self.cursor_id
        if task_id is not None:
            self.post_message(self.Selected(task_id))

    def _column_at(self, x: int) -> int | None:
        for i, (start, width) in enumerate(self._spans):
            if start <= x < start + width:
                return i
        return None

    def on_click(self, event: events.Click) -> None:
        i = self._column_at(event.x)
        if i is None or event.y < 1:
            return
        col = self.columns[i]
        index = col.top + (event.y - 1) // self.card_height
        if index < len(col.tasks):
            self.current = i
            self._go(col, index)
            self.action_select()

    def _scroll_under(self, event: events.MouseScrollDown | events.MouseScrollUp, step: int
                      ) -> None:
        i = self._column_at(event.x)
        if i is not None:
            event.stop()
            col = self.columns[i]
            col.top = max(0, min(col.top + step, len(col.tasks) - self.per_page))
            col.cursor = min(max(col.cursor, col.top), col.top + self.per_page - 1)
            self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll_under(event, 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll_under(event, -1)
