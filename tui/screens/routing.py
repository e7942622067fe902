"""Which modal answers which kind of interrupt."""

from __future__ import annotations

from textual.screen import Screen

from tui.screens.command import CommandScreen
from tui.screens.debug import DebugScreen
from tui.screens.network import NetworkScreen
from tui.screens.plan import PlanScreen
from tui.screens.progress import ProgressScreen
from tui.screens.question import QuestionScreen
from tui.state import InterruptView


def screen_for(intr: InterruptView, mode: str = "view") -> Screen:
    """The modal for ``intr``; ``mode`` "reject" opens approvals ready for feedback."""
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
