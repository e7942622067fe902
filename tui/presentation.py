"""Presentation: pure functions from run state to text (rich `Text`), unit-tested.

Widgets call these and never format anything themselves.  Every string that came
from an agent, a model, a command or the team file goes through `safe_text`: it is
never markup and its control characters are visible.
"""

from __future__ import annotations

import time

from rich.text import Text

from engine import events as ev
from engine.control_chars import visible_controls, visible_line
from tui.safe_text import safe_text
from tui.state import AgentView, InterruptView, MessageView, RunState, ToolCallView

USER = "user"

#: status -> (symbol, style)
STATUS_LOOK: dict[str, tuple[str, str]] = {
    ev.PENDING: ("·", "dim"),
    ev.STARTING: ("◌", "cyan"),
    ev.PLANNING: ("✎", "cyan"),
    ev.AWAITING_APPROVAL: ("◆", "bold yellow"),
    ev.RUNNING: ("▶", "bold green"),
    ev.WAITING_REPLY: ("⇄", "blue"),
    ev.WAITING_MESSAGE: ("⇠", "blue"),
    ev.WAITING_USER: ("?", "bold yellow"),
    ev.PAUSED: ("‖", "magenta"),
    ev.DONE: ("✔", "green"),
    ev.FAILED: ("✖", "bold red"),
    ev.CANCELLED: ("⊘", "red"),
    ev.IDLE: ("☾", "dim cyan"),  # a scheduled agent between firings
    ev.OFFLINE: ("⚠", "bold red"),  # ... that has completed no firing for too long
}

STATUS_WORDS = {
    ev.AWAITING_APPROVAL: "needs approval",
    ev.WAITING_REPLY: "waiting reply",
    ev.WAITING_MESSAGE: "waiting message",
    ev.WAITING_USER: "waiting for you",
}

#: message kind -> (marker, style); `request` is synchronous: the sender waits
KIND_LOOK: dict[str, tuple[str, str]] = {
    "request": ("⇄ sync", "bold cyan"),
    "notify": ("→ async", "dim"),
    "broadcast": ("⇉ all", "magenta"),
    "reply": ("↩ reply", "green"),
}

INTERRUPT_LABELS = {
    "user_input": "question",
    "debug_request": "debug",
    "progress_report": "progress",
    "plan_approval": "plan",
    "command_approval": "command",
    "budget": "budget",
    "disk": "disk full",
    "network": "network",
    "task_blocked": "blocked task",
}


def clock_time(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def status_text(status: str) -> Text:
    symbol, style = STATUS_LOOK.get(status, ("•", ""))
    return safe_text(f"{symbol} {STATUS_WORDS.get(status, status.replace('_', ' '))}", style=style)


def fold(text: str, width: int) -> str:
    """One line of at most ``width`` cells: the first line, cut with an ellipsis."""
    first, _, rest = text.strip().partition("\n")
    if len(first) > width or rest:
        return first[: max(width - 1, 1)].rstrip() + "…"
    return first


def tokens_text(tokens: int) -> str:
    if tokens < 1000:
        return str(tokens)
    if tokens < 1_000_000:
        return f"{tokens / 1000:.1f}k"
    return f"{tokens / 1_000_000:.2f}M"


def cost_text(cost: float) -> str:
    return f"${cost:.2f}" if cost >= 1 else f"${cost:.4f}"


def sandbox_text(agent: AgentView) -> Text:
    if agent.backend == "local" or agent.sandbox == "LOCAL":
        return Text("▲ LOCAL", style="bold red")
    return safe_text(agent.sandbox or agent.backend or "…", style="dim" if not agent.sandbox else "")


def activity_text(agent: AgentView, width: int = 40) -> Text:
    activity = agent.activity
    if agent.status in (ev.WAITING_USER, ev.AWAITING_APPROVAL):
        return safe_text(fold(activity or "waiting for you", width), style="yellow")
    if agent.status == ev.FAILED:
        return safe_text(fold(activity, width), style="red")
    return safe_text(fold(activity, width), style="" if activity else "dim")


def agent_row(agent: AgentView) -> dict[str, Text | str]:
    """The cells of one row of the Agents table, by column key (a `str` cell is markup
    to a DataTable: only our own figures are `str`)."""
    return {
        "id": safe_text(agent.id, style="bold"),
        "type": safe_text(fold(agent.type, 40)),
        "status": status_text(agent.status),
        "activity": activity_text(agent, 80),
        "calls": str(agent.tool_calls),
        "tokens": tokens_text(agent.tokens),
        "cost": cost_text(agent.cost),
        "sandbox": sandbox_text(agent) + connections_text(agent),
    }


def connections_text(agent: AgentView) -> Text:
    """`⇅3 ✗1`: the agent's connections through the egress proxy, and how many were refused."""
    if not agent.connections:
        return Text()
    text = Text(f" ⇅{agent.connections}", style="cyan")
    if agent.refused:
        text.append(f" ✗{agent.refused}", style="red")
    return text


def who(agent: str) -> str:
    return "you" if agent == USER else agent


def route_text(msg: MessageView) -> Text:
    to = "all" if msg.kind == "broadcast" else who(msg.to)
    return Text.assemble(safe_text(who(msg.sender), "bold"), " → ", safe_text(to))


def kind_text(kind: str) -> Text:
    marker, style = KIND_LOOK.get(kind, (kind, ""))
    return safe_text(marker, style=style)


def message_row(msg: MessageView, width: int = 120) -> dict[str, Text | str]:
    return {"time": clock_time(msg.ts), "route": route_text(msg), "kind": kind_text(msg.kind),
            "text": safe_text(fold(msg.text, width))}


def message_full(msg: MessageView) -> Text:
    head = Text.assemble(route_text(msg), "  ", kind_text(msg.kind), "  ",
                         safe_text(f"{msg.id} at {clock_time(msg.ts)}", "dim"))
    if msg.reply_to:
        head.append_text(safe_text(f"  (reply to {msg.reply_to})", "dim"))
    if msg.kind == "broadcast":
        head.append_text(safe_text(f"\nreached: {', '.join(msg.recipients) or 'nobody'}", "dim"))
    return Text.assemble(head, "\n\n", safe_text(msg.text))


def interrupt_kind(kind: str) -> str:
    return INTERRUPT_LABELS.get(kind, kind)


def interrupt_row(intr: InterruptView, width: int = 120) -> dict[str, Text | str]:
    mark = Text("●", style="bold red") if intr.blocking else Text("○", style="dim")
    kind = safe_text(interrupt_kind(intr.kind), style="yellow")
    what = safe_text(fold(interrupt_summary(intr), width))
    return {"blocking": mark, "agent": safe_text(intr.agent, style="bold"), "kind": kind,
            "what": what, "kind_what": Text.assemble(kind, " ", what)}


def interrupt_summary(intr: InterruptView) -> str:
    if intr.kind == "command_approval" and intr.path:
        return f"write {intr.path}"
    if intr.kind == "command_approval" and intr.command:
        return f"$ {intr.command}"
    if intr.kind == "plan_approval" and intr.steps:
        return f"{len(intr.steps)} steps: {intr.steps[0]}"
    return intr.prompt


def interrupts_title(count: int) -> str:
    return f"Interrupts ({count})" if count else "Interrupts"


def finished_text(state: RunState) -> Text:
    c = state.counts()
    style = "green" if state.run_status == "finished" and not c["failed"] else "red"
    return Text.assemble(safe_text(f"Run {state.run_status}", f"bold {style}"),
                         safe_text(f": {state.finish_reason}. " if state.finish_reason else ". "),
                         f"{c['done']} done, {c['failed']} failed, {c['cancelled']} cancelled"
                         + (f", {c['stopped']} stopped" if c["stopped"] else "")
                         + ". Press q to quit.")


def tool_call_text(call: ToolCallView, width: int = 70) -> Text:
    """One call: mark, tool, arguments; a refused or failed call's reason below it."""
    mark = ("…", "dim") if call.is_error is None else (("✖", "red") if call.is_error else ("✔", "green"))
    args = ", ".join(f"{k}={_short(v)}" for k, v in call.args.items())
    out = Text.assemble(mark, " ", safe_text(call.tool, "bold"), " ", safe_text(fold(args, width)))
    if call.is_error and call.error:
        reason = visible_line(visible_controls(call.error))
        out.append_text(Text.assemble("\n  ", safe_text(f"✖ {call.tool}: {reason}", "red")))
    return out


def plan_text(agent: AgentView) -> Text:
    """The plan the person approved (as edited), or the verdict on the last one."""
    if not agent.plan and not agent.plan_note:
        return Text("no plan approved", style="dim")
    lines = [safe_text(agent.plan_note, "bold" if agent.plan else "red")]
    lines += [safe_text(f"  {i}. {step}") for i, step in enumerate(agent.plan, 1)]
    return Text("\n").join(lines)


def _short(value: object) -> str:
    return repr(fold(value, 40)) if isinstance(value, str) else fold(repr(value), 40)


def elapsed_text(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"+{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"+{rest // 60}:{rest % 60:02d}"


def player_text(position: int, total: int, current_ts: float | None, start_ts: float | None,
                speed: float, paused: bool) -> Text:
    """The replay's player bar: state, event k of N, the run's time then, speed."""
    if position >= total:
        state = Text(" ■ REPLAY end ", style="bold reverse")
    elif paused:
        state = Text(" ‖ REPLAY paused ", style="bold black on yellow")
    else:
        state = Text(" ▶ REPLAY ", style="bold black on green")
    sep = (" │ ", "dim")
    out = Text.assemble(state, sep, (f"event {position}/{total}", "bold"))
    if current_ts is not None:
        out.append_text(Text.assemble(sep, clock_time(current_ts), " ",
                                      (elapsed_text(current_ts - (start_ts or current_ts)), "dim")))
    out.append_text(Text.assemble(sep, (f"×{speed:g}", "bold cyan"), " "))
    out.no_wrap = True
    out.overflow = "ellipsis"
    return out
