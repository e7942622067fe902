"""A held network request: an agent's program wants a host its rules do not list.

Shows the agent, the host and port, the method and the client's User-Agent (a hint the
program could fake), and how long the request waits before it is denied.  Keys: `o`
allow once, `t` allow for this run, `A` always allow (recorded beside the database,
never in agents.yaml), `d` deny, Esc later.  Every string from the agent is plain Text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, Static

from tui.decisions import Decision
from tui.safe_text import safe_text
from tui.screens.dialog import InterruptDialog

HINT = "o allow once · t allow for this run · A always allow · d deny · Esc later"


def request_text(agent: str, host: str, port: int | str, method: str, program: str) -> Text:
    text = Text.assemble(safe_text(agent, style="bold"), " wants to reach ",
                         safe_text(f"{host}:{port}", style="bold yellow"), "  ",
                         safe_text(method or "?", style="dim"))
    if program:
        text.append("\nclient: ")
        text.append_text(safe_text(program))
        text.append("  (its own User-Agent: a hint, not proof)", style="dim")
    return text


class NetworkScreen(InterruptDialog):
    BINDINGS = [
        Binding("o", "choose('once')", "Once"),
        Binding("t", "choose('run')", "This run"),
        Binding("A", "choose('always')", "Always"),
        Binding("d", "choose('deny')", "Deny"),
        Binding("escape", "close", "Later"),
    ]

    def compose(self) -> ComposeResult:
        intr = self.interrupt
        net = intr.network
        with Vertical(id="dialog", classes="wide") as box:
            box.border_title = safe_text(f"Network request · {intr.agent} · {intr.id}")
            yield Static(request_text(intr.agent, str(net.get("host", "")), net.get("port", ""),
                                      str(net.get("method", "")), str(net.get("program") or "")),
                         id="prompt")
            if intr.timeout:
                yield Static(Text(f"Denied by itself if not answered within {intr.timeout:g} s; "
                                  "always allow is kept in .agentorch/network-allowed.json.",
                                  style="dim"), id="reason")
            yield Label(HINT, classes="hint")

    def action_choose(self, choice: str) -> None:
        self.dismiss(Decision(self.interrupt.id, "answer", choice))
