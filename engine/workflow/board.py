"""The task board: tasks, their states, and the `task`/`workflow` event contract.

EVENT CONTRACT (consumers: the TUI's Board view, headless clients, `tasks RUN_ID`,
`export`).  Every change of a task is ONE `task` event whose data is the task's full
record, so a consumer keeps only the latest event per `task_id`:

    task_id      str         the planner's id for the task (unique in the run)
    title        str
    state        str         todo | running | review | qa | done | blocked | skipped | cancelled
    attempt      int         1-based: which attempt this is (a review/QA failure starts the next)
    assignee     str | None  the agent doing it
    order        int         tasks of a lower order finish before this one starts
    depends_on   list[str]   task ids that must be done before this one starts
    description  str
    acceptance   str         what "done" means for this task ("" if not given)
    feedback     str | None  the review or QA feedback that caused this transition
    summary      str | None  the assignee's submit_task summary (latest)
    qa_output    str | None  the tail of the last QA command's output (bounded)
    branch       str | None  the task's git branch when the team has `repo:`
    reviewer     str | None  who reviews it (None: no review step)
    reason       str | None  a sentence for the person on blocked/skipped/cancelled
    max_attempts int         attempts allowed before it is blocked (a retry adds one)
    interrupt    str | None  the pending `task_blocked` interrupt of a blocked task
    by_call      str | None  the tool call that caused this change (None: the engine/person)
    cut          str | None  with `repo:`, the integration commit its branch was cut from

A `workflow` event tells the run's phase: {goal, phase, attempt} with phase one of
planning | checking | approval | running | done | stopped (and `reason` on stopped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TODO, RUNNING, REVIEW, QA, DONE = "todo", "running", "review", "qa", "done"
BLOCKED, SKIPPED, CANCELLED = "blocked", "skipped", "cancelled"
TASK_STATES = (TODO, RUNNING, REVIEW, QA, DONE, BLOCKED, SKIPPED, CANCELLED)
#: states a task never leaves by itself (blocked waits for the person)
FINAL_STATES = frozenset({DONE, SKIPPED, CANCELLED})
#: states that let the tasks after it start
SATISFIED_STATES = frozenset({DONE, SKIPPED})

PLANNING, CHECKING, APPROVAL = "planning", "checking", "approval"
PHASE_RUNNING, PHASE_DONE, PHASE_STOPPED = "running", "done", "stopped"
PHASES = (PLANNING, CHECKING, APPROVAL, PHASE_RUNNING, PHASE_DONE, PHASE_STOPPED)

#: characters of QA output kept on a task (its tail)
QA_TAIL = 4000


@dataclass
class Task:
    """One task of the board (mutable: the engine's own record of it)."""

    task_id: str
    title: str
    description: str = ""
    assignee: str | None = None
    order: int = 0
    depends_on: list[str] = field(default_factory=list)
    acceptance: str = ""
    state: str = TODO
    attempt: int = 1
    feedback: str | None = None
    summary: str | None = None
    qa_output: str | None = None
    branch: str | None = None
    reviewer: str | None = None
    reason: str | None = None
    max_attempts: int = 3
    interrupt: str | None = None
    by_call: str | None = None
    cut: str | None = None

    def event_data(self) -> dict[str, Any]:
        return task_event_data(self)

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> Task:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        task = cls(**known)
        task.depends_on = list(task.depends_on or [])
        return task


def task_event_data(task: Task) -> dict[str, Any]:
    """The data of a `task` event: the task's full record (the contract above)."""
    return {
        "task_id": task.task_id, "title": task.title, "state": task.state,
        "attempt": task.attempt, "assignee": task.assignee, "order": task.order,
        "depends_on": list(task.depends_on), "description": task.description,
        "acceptance": task.acceptance, "feedback": task.feedback, "summary": task.summary,
        "qa_output": task.qa_output, "branch": task.branch, "reviewer": task.reviewer,
        "reason": task.reason, "max_attempts": task.max_attempts,
        "interrupt": task.interrupt, "by_call": task.by_call, "cut": task.cut,
    }


def qa_tail(output: str) -> str:
    """The last QA_TAIL characters of a QA command's output."""
    return output if len(output) <= QA_TAIL else "…" + output[-QA_TAIL:]


def fold_tasks(events: list[dict[str, Any]]) -> dict[str, Task]:
    """The board from `task` event data, in order: the latest record per task_id."""
    board: dict[str, Task] = {}
    for data in events:
        board[data["task_id"]] = Task.from_event(data)
    return board
