"""A DataTable whose one flexible column takes the width the others leave.

Below ``narrow_below`` cells of width, the columns listed in ``NARROW_HIDDEN`` are
left out (the table is re-laid once when crossing that width, never on updates).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

Cell = object
CELL_PADDING = 2


class FlexTable(DataTable):
    COLUMNS: tuple[tuple[str, str, int], ...] = ()  # (label, key, width); width 0 = flexible
    NARROW_HIDDEN: frozenset[str] = frozenset()
    WIDE_HIDDEN: frozenset[str] = frozenset()  # columns only a narrow table shows
    NARROW_BELOW = 100
    MIN_FLEX = 8
    #: column key -> the width it may grow to so that its cells fit (ids, names): they
    #: get the width they need before the flexible free-text column does
    FIT: dict[str, int] = {}

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._cells: dict[str, dict[str, Cell]] = {}  # row key -> column key -> cell
        self._narrow: bool | None = None
        self._fitted: dict[str, int] = {}  # column key -> width grown to fit its cells

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        """Textual moves a scrollbar's thumb only while it is shown: a table scrolled to
        its newest row just before the bar appeared drew the thumb at the top."""
        if shown:
            self.vertical_scrollbar.position = self.scroll_y

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        if shown:
            self.horizontal_scrollbar.position = self.scroll_x

    def _columns(self) -> list[tuple[str, str, int]]:
        hidden = self.NARROW_HIDDEN if self._narrow else self.WIDE_HIDDEN
        return [(label, key, self._fitted.get(key, w) if w else 0) for label, key, w in self.COLUMNS
                if key not in hidden]

    def _fit(self, cells: dict[str, Cell]) -> None:
        """Grow the FIT columns to their cells' width in terminal cells (up to the cap)."""
        grown = False
        for key, cap in self.FIT.items():
            cell = cells.get(key)
            width = cell.cell_len if isinstance(cell, Text) else len(str(cell))
            base = next((w for _, k, w in self.COLUMNS if k == key), 0)
            want = min(max(width, base), cap)
            if want > self._fitted.get(key, base):
                self._fitted[key] = want
                column = self.columns.get(key)  # type: ignore[call-overload]
                if column is not None:
                    column.width = want
                grown = True
        if grown and self._narrow is not None:
            self._require_update_dimensions = True
            self._relayout()

    def _flex_width(self) -> int:
        columns = self._columns()
        fixed = sum(w + CELL_PADDING for _, _, w in columns if w)
        return max(self.MIN_FLEX, self.size.width - fixed - CELL_PADDING - 2)

    def on_mount(self) -> None:
        self._relayout()

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        width = self.size.width or self.app.size.width
        narrow = width < self.NARROW_BELOW
        if narrow != self._narrow:
            self._narrow = narrow
            cursor = self.cursor_row
            self.clear(columns=True)
            for label, key, w in self._columns():
                self.add_column(label, key=key, width=w or self._flex_width())
            for row_key, cells in self._cells.items():
                self.add_row(*(cells[k] for _, k, _ in self._columns()), key=row_key)
            if self.row_count:
                self.move_cursor(row=min(cursor, self.row_count - 1), animate=False)
        for _, key, w in self._columns():
            if not w:
                column = self.columns.get(key)  # type: ignore[call-overload]
                if column is not None and column.width != self._flex_width():
                    column.width = self._flex_width()
                    self._require_update_dimensions = True
                    self.refresh()

    def put_row(self, key: str, cells: dict[str, Cell]) -> None:
        """Add the row, or update only the cells that changed (in place, by key)."""
        old = self._cells.get(key)
        self._cells[key] = cells
        if self.FIT:
            self._fit(cells)
        if self._narrow is None:  # not laid out yet: on_mount adds it
            return
        if old is None:
            self.add_row(*(cells[k] for _, k, _ in self._columns()), key=key)
            return
        for _, column, _ in self._columns():
            if not _same(cells[column], old[column]):
                self.update_cell(key, column, cells[column])

    def drop_row(self, key: str) -> None:
        if self._cells.pop(key, None) is not None and self._narrow is not None:
            self.remove_row(key)

    def reset_rows(self, rows: dict[str, dict[str, Cell]]) -> None:
        """Replace every row (used when a filter changes, not for updates)."""
        self._cells = dict(rows)
        if self._narrow is None:
            return
        self.clear()
        for row_key, cells in self._cells.items():
            self.add_row(*(cells[k] for _, k, _ in self._columns()), key=row_key)


def _same(a: Cell, b: Cell) -> bool:
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b
