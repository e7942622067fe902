"""Which modal answers which kind of interrupt."""

from __future__ import annotations

from textual.screen import Screen

from tui.screens.command import CommandScreen
from tui.screens.debug import DebugScreen
from tui.screens.network import NetworkScreen
from tui.screens.plan import PlanScreen
from tui.screens.progress import ProgressScreen
from tui.screens.question import QuestionScreen
from tui.screens.task_blocked import TaskBlockedScreen
from tui.state import InterruptView, RunState


def screen_for(intr: InterruptView, mode: str = "view", state: RunState | None = None
               ) -> Screen:
    """The modal for ``intr``; ``mode`` "reject" opens approvals ready for feedback."""
    if intr.kind == "task_blocked" and state is not None:
        task = state.board.tasks.get(intr.task)
        assignee = task.record.assignee if task is not None else None
        takers = [a.id for a in state.agents.values() if not a.finished and a.id != assignee]
        return TaskBlockedScreen(intr, task, takers)
    if intr.kind == "plan_approval":
        return PlanScreen(intr, mode)
    if intr.kind in ("command_approval", "budget", "disk"):
        return CommandScreen(intr, mode)
    if intr.kind == "network":
        return NetworkScreen(intr)
    if intr.kind == "debug_request":
        return DebugScreen(intr)
    if intr.kind == "progress_report":
        return ProgressScreen(intr)
    return QuestionScreen(intr)
