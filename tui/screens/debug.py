"""A debug request from an agent: free text help, maybe with a deadline."""

from __future__ import annotations

from textual.binding import Binding

from tui.screens.question import TextAnswerScreen


class DebugScreen(TextAnswerScreen):
    heading = "Debug request"
    placeholder = "What should the agent know? Enter sends it"
    BINDINGS = [Binding("escape", "close", "Later")]

    def hint(self) -> str:
        timeout = self.interrupt.timeout
        later = f"the agent goes on without an answer after {timeout:g}s" if timeout else "Esc later"
        return f"Enter send · {later}"
