"""A card's history: the task, then every attempt with its submission, the review's
verdicts and feedback, and each QA run's output (plain text: agents and commands
wrote all of it).  It follows the task live: a change redraws it in place."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from tui.board_state import BoardState, TaskView
from tui.board_text import history_sections, qa_output_text, task_summary_text
from tui.safe_text import safe_text
from tui.screens.dialog import Dialog


class TaskHistoryScreen(Dialog[None]):
    BINDINGS = [Binding("escape,q", "close", "Close"),
                Binding("a", "answer", "Answer (retry, reassign, skip)")]

    def __init__(self, board: BoardState, task_id: str) -> None:
        super().__init__()
        self.board = board
        self.task_id = task_id
        self._shown = -1  # how many changes of the task are drawn

    @property
    def shown_task(self) -> TaskView | None:
        return self.board.tasks.get(self.task_id)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="wide") as box:
            yield from self._body(box)
            yield Label("↑↓ PgUp PgDn scroll · Esc close", classes="hint")

    def _body(self, box: VerticalScroll) -> ComposeResult:
        task = self.shown_task
        if task is None:
            box.border_title = safe_text(f"Task {self.task_id}")
            yield Static(safe_text("This task is not on the board.", "dim"))
            return
        self._shown = len(task.changes)
        box.border_title = safe_text(f"Task {task.task_id} · {task.record.title}")
        yield Static(task_summary_text(task), id="task")
        sections = history_sections(task)
        if not sections:
            yield Static(safe_text("No history yet.", "dim"))
        for heading, entries in sections:
            yield Static(heading, classes="attempt")
            for text, output in entries:
                yield Static(text)
                if output is not None:
                    yield Static(qa_output_text(output), classes="qa-output")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":  # only a blocked task waits for an answer
            task = self.shown_task
            return task is not None and task.state == "blocked"
        return True

    def action_answer(self) -> None:
        task_id = self.task_id
        self.dismiss(None)
        if not self.app.open_task_interrupt(task_id):  # type: ignore[attr-defined]
            self.notify(f"Task {task_id} waits for no answer now.", severity="warning")

    async def task_changed(self) -> None:
        """The board changed: redraw when this task did (the scroll position is kept)."""
        task = self.shown_task
        if task is None or len(task.changes) == self._shown:
            return
        box = self.query_one("#dialog", VerticalScroll)
        scroll_y = box.scroll_y
        await box.remove_children()
        await box.mount_all([*self._body(box), Label("↑↓ PgUp PgDn scroll · Esc close",
                                                      classes="hint")])
        box.scroll_to(y=scroll_y, animate=False)
        self.refresh_bindings()  # `a` answers a task that is blocked now
