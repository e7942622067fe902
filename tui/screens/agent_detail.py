"""One agent in detail: its config, memory file, last tool calls and usage."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from engine.config import AgentConfig
from tui.presentation import (
    cost_text,
    plan_text,
    sandbox_text,
    status_text,
    tokens_text,
    tool_call_text,
)
from tui.safe_text import safe_text
from tui.screens.dialog import Dialog
from tui.state import AgentView

MEMORY_TAIL = 1500


@dataclass(frozen=True)
class AgentDetail:
    view: AgentView
    config: AgentConfig
    memory_text: str

    @property
    def workspace(self) -> str:
        """As the team file names it (`TeamConfig.workspace_of` resolves it to a full path)."""
        return self.config.sandbox_path or f".agentorch/workspaces/{self.config.id}"


def detail_renderable(detail: AgentDetail) -> Group:
    view, cfg = detail.view, detail.config
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    rows: list[tuple[str, Text | str]] = [  # a `str` cell is markup to rich: only Text
        ("status", Text.assemble(status_text(view.status), "  ", safe_text(view.activity))),
        ("type", safe_text(cfg.type or "—")),
        ("description", safe_text(cfg.description or "—")),
        ("responsibilities", safe_text("; ".join(cfg.responsibilities or []) or "—")),
        ("model", safe_text(cfg.model or "scripted")),
        ("approval", safe_text(cfg.approval_text)),
        ("talks to", safe_text(_talks_to(cfg))),
        ("tools", safe_text(", ".join(cfg.allowed_tools()))),
        ("sandbox", Text.assemble(sandbox_text(view), safe_text(f"  workspace {detail.workspace}"))),
        ("usage", safe_text(f"{tokens_text(view.tokens)} tokens · {cost_text(view.cost)} · "
                            f"{view.tool_calls} tool calls")),
        ("memory file", safe_text(cfg.memory_file or "— (no memory_file)")),
    ]
    for key, value in rows:
        facts.add_row(Text(key), value)
    calls = [tool_call_text(c) for c in list(view.last_calls)[-10:]] or [Text("none yet", "dim")]
    memory = detail.memory_text.strip()
    if len(memory) > MEMORY_TAIL:
        memory = "…" + memory[-MEMORY_TAIL:]
    plan = [Text("\nPlan", style="bold underline"), plan_text(view)] \
        if "plan" in cfg.approval_text or view.plan or view.plan_note else []
    net = [Text("\nNetwork", style="bold underline"), *connection_lines(view)] \
        if view.connections else []
    return Group(facts, *plan, Text("\nLast tool calls", style="bold underline"), *calls, *net,
                 Text("\nMemory", style="bold underline"),
                 safe_text(memory or "(empty)", style="" if memory else "dim"))


def connection_lines(view: AgentView) -> list[Text]:
    """The agent's last connections through the proxy: allowed or refused, bytes each way."""
    lines = [Text(f"{view.connections} connections, {view.refused} refused", style="dim")]
    for c in view.last_connections:
        ok = bool(c.get("allowed"))
        line = Text("✓ " if ok else "✗ ", style="green" if ok else "red")
        line.append_text(safe_text(f"{c.get('method', '')} {c.get('host', '')}:{c.get('port', '')}"))
        line.append(f"  ↑{c.get('up', 0)} B ↓{c.get('down', 0)} B", style="dim")
        if c.get("reason"):
            line.append("  ")
            line.append_text(safe_text(str(c["reason"]), style="yellow"))
        lines.append(line)
    return lines


def _talks_to(cfg: AgentConfig) -> str:
    dc = cfg.direct_communication
    if dc is None or dc == []:
        return "nobody (replies only)"
    return "everyone" if dc == "all" else ", ".join(dc)


class AgentDetailScreen(Dialog[None]):
    BINDINGS = [Binding("escape,q,d", "close", "Close"), Binding("v", "changes", "Changes")]

    def __init__(self, detail: AgentDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="wide") as box:
            box.border_title = safe_text(f"Agent {self.detail.view.id}")
            yield Static(detail_renderable(self.detail))
            yield Label("Esc close", classes="hint")

    def action_changes(self) -> None:
        self.dismiss(None)
        self.app.action_changes(self.detail.view.id)
