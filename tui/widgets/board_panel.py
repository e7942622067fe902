"""The task board: columns Todo, Running, Review, QA, Done, Blocked of compact cards.

Each column is an `OptionList` of cards (keyboard, mouse and scrolling for free; only
visible lines are rendered).  Updates come in batches from the app with the ids of
the tasks that changed: a column whose cards stayed the same replaces only the
changed cards' text; a column that gained or lost cards is refilled once, keeping the
highlighted card.  A hidden board only notes that it is stale and refills when shown.
Empty columns shrink to their header so the others get the width.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.board_state import COLUMNS, BoardState, TaskView
from tui.board_text import board_title, card_text, column_title, empty_board_text

COMPACT_BELOW = 20  #: rows: a lower board shows two-line cards (status beside the assignee)


class CardList(OptionList):
    """One column's cards; ← → move to the next column that has cards."""

    BINDINGS = [
        Binding("enter", "select", "History"),
        Binding("left", "column(-1)", "Column", show=False),
        Binding("right", "column(1)", "Column", show=False),
    ]

    def action_column(self, step: int) -> None:
        board = next((a for a in self.ancestors if isinstance(a, BoardPanel)), None)
        if board is not None:
            board.focus_column(self, step)


class BoardColumn(Vertical):
    """A column: its header (name and count) and its cards."""

    def __init__(self, key: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(column_title(self.key, []), classes="column-header")
        yield CardList(id=f"cards-{self.key}", classes="cards")

    @property
    def cards(self) -> CardList:
        return self.query_one(CardList)

    def show(self, tasks: list[TaskView], changed: set[str] | None, compact: bool) -> None:
        """Show ``tasks``; ``changed`` None: every card is redrawn."""
        cards = self.cards
        ids = [t.task_id for t in tasks]
        if ids != self.ids or changed is None:
            highlighted = cards.highlighted_option.id if cards.highlighted_option else None
            cards.set_options(Option(card_text(t, compact), id=t.task_id) for t in tasks)
            self.ids = ids
            if highlighted in ids:
                cards.highlighted = ids.index(highlighted)
            elif ids and cards.has_focus:
                cards.highlighted = 0
        else:
            for task in tasks:
                if task.task_id in changed:
                    cards.replace_option_prompt(task.task_id, card_text(task, compact))
        self.query_one(".column-header", Static).update(column_title(self.key, tasks))
        self.set_class(not tasks, "-empty")


class BoardPanel(Vertical):
    """The board; `refresh_board` folds in what changed."""

    compact: reactive[bool] = reactive(False)

    class TaskChosen(Message):
        """Enter (or a click) on a card: open its history."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.board: BoardState | None = None
        self.stale = True  #: cards not drawn since the board last changed (hidden)
        self.border_title = board_title(BoardState())

    def compose(self) -> ComposeResult:
        yield Static(empty_board_text(BoardState()), classes="board-empty")
        with Horizontal(classes="board-columns"):
            for key, _ in COLUMNS:
                yield BoardColumn(key, id=f"column-{key}")

    def columns(self) -> list[BoardColumn]:
        return list(self.query(BoardColumn))

    def refresh_board(self, board: BoardState, changed: set[str] | None = None) -> None:
        """Show ``board``; ``changed`` the ids of the tasks that changed (None: all)."""
        self.board = board
        if not self.display or not self.is_mounted:
            self.stale = True
            return
        if self.stale:
            changed, self.stale = None, False
        self.border_title = board_title(board)
        empty = self.query_one(".board-empty", Static)
        empty.display = not board.tasks
        if not board.tasks:
            empty.update(empty_board_text(board))
        by_column = board.columns()
        for column in self.columns():
            column.show(by_column[column.key], changed, self.compact)

    def on_show(self) -> None:
        if self.board is not None and self.stale:
            self.refresh_board(self.board)

    def on_resize(self) -> None:
        self.compact = self.size.height < COMPACT_BELOW

    def watch_compact(self) -> None:
        if self.board is not None:
            self.stale = True
            self.refresh_board(self.board)

    def focus_column(self, current: CardList | None = None, step: int = 1) -> None:
        """Focus the next column with cards after (or before) ``current``'s."""
        lists = [c.cards for c in self.columns()]
        start = lists.index(current) if current in lists else -1 if step > 0 else len(lists)
        i = start + step
        while 0 <= i < len(lists):
            if lists[i].option_count:
                target = lists[i]
                if target.highlighted is None:
                    target.highlighted = 0
                target.focus()
                return
            i += step

    def focus_task(self, task_id: str) -> bool:
        """Highlight ``task_id``'s card and focus its column; False when not on the board."""
        for column in self.columns():
            if task_id in column.ids:
                column.cards.highlighted = column.ids.index(task_id)
                column.cards.focus()
                return True
        return False

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.TaskChosen(event.option.id))
