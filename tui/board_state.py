"""The task board as the control center sees it: a pure fold of `task` and `workflow` events.

Every change of a task is one `task` event carrying the task's whole record (the
contract in engine/workflow/board.py); the board keeps the latest record per
`task_id` plus each task's history (every change, in order), from which the card's
history screen tells attempts, reviews and QA runs apart.  No Textual here: it is
unit-tested directly and folded by `RunState`.

The records come from agents (the planner writes titles and descriptions, the
assignee its summary, the reviewer its feedback, QA its output): every field is
coerced to the type the screen expects, so a malformed record cannot break the fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine.workflow.board import BLOCKED, CANCELLED, DONE, QA, REVIEW, RUNNING, SKIPPED, TODO

#: the board's columns, left to right: (key, title)
COLUMNS: tuple[tuple[str, str], ...] = (
    (TODO, "Todo"), (RUNNING, "Running"), (REVIEW, "Review"), (QA, "QA"), (DONE, "Done"),
    (BLOCKED, "Blocked"),
)
#: a task state -> the column it shows in (skipped and cancelled tasks are closed: Done)
COLUMN_OF = {TODO: TODO, RUNNING: RUNNING, REVIEW: REVIEW, QA: QA, DONE: DONE,
             SKIPPED: DONE, CANCELLED: DONE, BLOCKED: BLOCKED}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _maybe(value: object) -> str | None:
    return None if value is None or value == "" else _text(value)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class TaskRecord:
    """One `task` event's record, its fields coerced (the contract's names)."""

    task_id: str
    title: str
    state: str
    attempt: int
    assignee: str | None
    order: int
    depends_on: tuple[str, ...]
    description: str
    acceptance: str
    feedback: str | None
    summary: str | None
    qa_output: str | None
    branch: str | None
    reviewer: str | None
    reason: str | None
    max_attempts: int  #: attempts allowed before the task is blocked (0: not told)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TaskRecord:
        deps = data.get("depends_on")
        return cls(
            task_id=_text(data.get("task_id")), title=_text(data.get("title")),
            state=_text(data.get("state")) or TODO, attempt=max(1, _int(data.get("attempt"), 1)),
            assignee=_maybe(data.get("assignee")), order=_int(data.get("order"), 0),
            depends_on=tuple(_text(d) for d in deps) if isinstance(deps, list) else (),
            description=_text(data.get("description")), acceptance=_text(data.get("acceptance")),
            feedback=_maybe(data.get("feedback")), summary=_maybe(data.get("summary")),
            qa_output=_maybe(data.get("qa_output")), branch=_maybe(data.get("branch")),
            reviewer=_maybe(data.get("reviewer")), reason=_maybe(data.get("reason")),
            max_attempts=max(0, _int(data.get("max_attempts"), 0)))


@dataclass(frozen=True)
class TaskChange:
    """One change of a task: its record after the change and when it happened."""

    ts: float
    record: TaskRecord


@dataclass
class TaskView:
    """A card: the task's latest record, when it first appeared, and its history."""

    record: TaskRecord
    first_seen: int  # the order tasks appeared in (ties within an order keep it)
    changes: list[TaskChange] = field(default_factory=list)

    @property
    def task_id(self) -> str:
        return self.record.task_id

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def column(self) -> str:
        return COLUMN_OF.get(self.record.state, TODO)

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.record.order, self.first_seen)


@dataclass
class HistoryEntry:
    """One line of a task's history: what happened, and the text that came with it."""

    ts: float
    kind: str  # started | submitted | review_changes | review_approved | qa_failed |
    #            qa_passed | blocked | retried | reassigned | skipped | cancelled | done
    who: str | None = None
    text: str | None = None  # a summary, feedback, a reason
    output: str | None = None  # QA output


@dataclass
class Attempt:
    number: int
    assignee: str | None
    entries: list[HistoryEntry] = field(default_factory=list)


class BoardState:
    """The board: tasks by id (the latest record each) and the workflow's phase."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskView] = {}
        self.goal = ""
        self.phase = ""
        self.plan_attempt = 0
        self.phase_reason = ""
        self.dirty: set[str] = set()  #: task ids changed since the widgets last looked
        self.workflow_changed = False

    def apply_task(self, ts: float, data: dict[str, Any]) -> bool:
        """Fold one `task` event; False when it changed nothing (a repeated record)."""
        record = TaskRecord.from_data(data)
        if not record.task_id:
            return False
        view = self.tasks.get(record.task_id)
        if view is None:
            view = self.tasks[record.task_id] = TaskView(record, len(self.tasks))
        elif view.record == record:  # re-emitted (a resumed run): nothing new
            return False
        view.record = record
        view.changes.append(TaskChange(ts, record))
        self.dirty.add(record.task_id)
        return True

    def apply_workflow(self, data: dict[str, Any]) -> None:
        self.goal = _text(data.get("goal")) or self.goal
        self.phase = _text(data.get("phase")) or self.phase
        self.plan_attempt = _int(data.get("attempt"), self.plan_attempt)
        self.phase_reason = _text(data.get("reason"))
        self.workflow_changed = True

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        self.workflow_changed = False
        return dirty

    def column(self, key: str) -> list[TaskView]:
        """The cards of one column, in order (then in the order they were planned)."""
        return sorted((t for t in self.tasks.values() if t.column == key),
                      key=lambda t: t.sort_key)

    def columns(self) -> dict[str, list[TaskView]]:
        out: dict[str, list[TaskView]] = {key: [] for key, _ in COLUMNS}
        for task in sorted(self.tasks.values(), key=lambda t: t.sort_key):
            out[task.column].append(task)
        return out

    def counts(self) -> dict[str, int]:
        """Tasks by state (every state that occurs)."""
        out: dict[str, int] = {}
        for task in self.tasks.values():
            out[task.state] = out.get(task.state, 0) + 1
        return out


def attempts(task: TaskView) -> list[Attempt]:
    """The task's history as attempts, each with what happened in it, oldest first.

    Read from consecutive records: entering `review` (or going on to `qa`/`done`
    without one) is a submission; leaving `review` for `qa` or `done` is an approval
    and for a new attempt a request for changes; leaving `qa` for `done` is a passed
    QA run and for a new attempt (or `blocked`) a failed one.  A verdict belongs to
    the attempt it judged.  A blocked task going on is the person's retry, with the
    note as its feedback.
    """
    out: list[Attempt] = []
    prev: TaskRecord | None = None
    for change in task.changes:
        rec, ts = change.record, change.ts
        if prev is not None and out:
            out[-1].entries.extend(_verdicts(prev, rec, ts))
        if prev is None or rec.attempt != prev.attempt or (
                prev.state == BLOCKED and rec.state in (TODO, RUNNING)):
            out.append(Attempt(rec.attempt, rec.assignee))
            if prev is not None and prev.state == BLOCKED:  # the person's answer
                kind = "reassigned" if rec.assignee != prev.assignee else "retried"
                out[-1].entries.append(HistoryEntry(ts, kind, rec.assignee if kind ==
                                                    "reassigned" else None, rec.feedback))
                prev = replace(prev, assignee=rec.assignee)
        entries = out[-1].entries
        if prev is not None and prev.assignee != rec.assignee and rec.assignee:
            entries.append(HistoryEntry(ts, "reassigned", rec.assignee))
            out[-1].assignee = rec.assignee
        if prev is None or rec.state != prev.state or rec.attempt != prev.attempt:
            entries.extend(_entering(prev, rec, ts))
        prev = rec
    return out


def _verdicts(prev: TaskRecord, rec: TaskRecord, ts: float) -> list[HistoryEntry]:
    """What leaving ``prev``'s state for ``rec`` says about the attempt of ``prev``."""
    left = rec.state != prev.state or rec.attempt != prev.attempt
    if not left:
        return []
    if prev.state == REVIEW:
        if rec.state in (QA, DONE) and rec.attempt == prev.attempt:  # feedback kept from
            note = rec.feedback if rec.feedback != prev.feedback else None  # before: not his
            return [HistoryEntry(ts, "review_approved", prev.reviewer, note)]
        if rec.state not in (SKIPPED, CANCELLED):
            return [HistoryEntry(ts, "review_changes", prev.reviewer, rec.feedback)]
    if prev.state == QA:
        if rec.state == DONE:
            return [HistoryEntry(ts, "qa_passed", None, None, rec.qa_output)]
        if rec.state not in (SKIPPED, CANCELLED):
            return [HistoryEntry(ts, "qa_failed", None, rec.feedback, rec.qa_output)]
    return []


def _entering(prev: TaskRecord | None, rec: TaskRecord, ts: float) -> list[HistoryEntry]:
    was = prev.state if prev is not None and prev.attempt == rec.attempt else None
    submitted = HistoryEntry(ts, "submitted", rec.assignee, rec.summary)
    if rec.state == RUNNING:
        return [HistoryEntry(ts, "started")]
    if rec.state == REVIEW:
        return [submitted]
    if rec.state == QA:
        return ([submitted] if was == RUNNING else []) + [HistoryEntry(ts, "qa_started")]
    if rec.state == DONE:
        return ([submitted] if was == RUNNING else []) + [HistoryEntry(ts, "done")]
    if rec.state in (BLOCKED, SKIPPED, CANCELLED):
        return [HistoryEntry(ts, rec.state, None, rec.reason or rec.feedback)]
    return []
