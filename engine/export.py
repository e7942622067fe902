"""Export a recorded run: its events as JSON lines, or a readable markdown transcript.

The transcript quotes agents, models and commands: their control characters are made
visible (engine/control_chars.py), so reading it in a terminal (`cat`, `less -R`)
cannot retitle or clear that terminal.  JSON lines escape them already."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from engine import events as ev
from engine.control_chars import clean_output, visible_controls
from engine.workflow.board import TASK_STATES, fold_tasks

MAX_OUTPUT_LINES = 20


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _quote(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _output_block(output: str) -> list[str]:
    lines = clean_output(output).rstrip("\n").splitlines()
    if not lines:
        return []
    shown = lines[:MAX_OUTPUT_LINES]
    if len(lines) > MAX_OUTPUT_LINES:
        shown.append(f"… ({len(lines) - MAX_OUTPUT_LINES} more lines)")
    return ["   ```", *(f"   {line}" for line in shown), "   ```"]


def _answer_text(kind: str, answer: dict[str, Any] | None) -> str:
    if answer is None:
        return "**still pending**"
    by = answer.get("by", "user")
    if isinstance(answer.get("via"), str) and answer["via"]:  # another client (attach, a script)
        by = f"{by} via {_quote(answer['via'], 60)}"
    if answer.get("expired"):
        return "expired without an answer"
    if answer.get("withdrawn"):
        return f"withdrawn ({answer.get('text', '')})"
    if "approved" in answer:
        verdict = "approved" if answer["approved"] else "rejected"
        extra = f": {_quote(answer['text'])}" if answer.get("text") else ""
        return f"{verdict} by {by}{extra}"
    if answer.get("acknowledged"):
        return f"acknowledged by {by}"
    return f"answered by {by}: “{_quote(answer.get('text', ''))}”"


def _call_line(tool: str, args: dict[str, Any], result: dict[str, Any] | None) -> list[str]:
    res = (result or {}).get("result")
    res = res if isinstance(res, dict) else {}
    error = res.get("error") if (result or {}).get("is_error") else None
    if tool == "run_command":
        if result is None:
            head = f"`$ {args.get('command', '')}` (no result recorded)"
        elif error and res.get("exit_code") is None:
            head = f"`$ {args.get('command', '')}` — **{_quote(error, 200)}**"
            return [head, *_output_block(res.get("output", ""))]
        else:
            status = f"exit {res.get('exit_code')}"
            if res.get("timed_out"):
                status += ", timed out"
            if res.get("truncated"):
                status += ", output truncated"
            head = f"`$ {args.get('command', '')}` → {status}"
        return [head, *_output_block(res.get("output", ""))]
    if tool == "send_message":
        mode = "sync" if args.get("wait_reply") else "async"
        head = f"send_message to {args.get('to')} ({mode}): “{_quote(args.get('text', ''))}”"
        if "reply" in res:
            head += f" → reply: “{_quote(res['reply'].get('text', ''))}”"
    elif tool == "wait_for_message" and not error and res:
        head = f"wait_for_message → {res.get('kind')} from {res.get('from')}: " \
               f"“{_quote(res.get('text', ''))}”"
    elif tool == "reply":
        head = f"reply: “{_quote(args.get('text', ''))}”"
    elif tool in ("read_file", "write_file"):
        head = f"{tool} `{args.get('path')}`"
    elif tool == "finish":
        head = f"finish: {_quote(args.get('summary', ''))}"
    elif tool == "propose_plan":
        verdict = ("approved" if res.get("approved") else
                   f"rejected: {_quote(res.get('feedback', ''))}" if res else "no answer")
        head = f"propose_plan ({len(args.get('steps', []))} steps) → {verdict}"
    else:
        text = args.get("text") or args.get("question") or ""
        head = f"{tool}: “{_quote(text)}”" if text else tool
        if "answer" in res:
            head += f" → “{_quote(res['answer'])}”"
    if error:
        head += f" — **error:** {_quote(error, 200)}"
    if (result or {}).get("interrupted"):
        head += " (interrupted by a restart)"
    return [head]


def _cell(text: object, limit: int = 120) -> str:
    """Text for a table cell: one line, shortened, its `|` escaped."""
    return _quote("-" if text is None or text == "" else text, limit).replace("|", "\\|")


def _board_lines(flow: dict[str, Any], tasks: list[dict[str, Any]]) -> list[str]:
    """The task board of a run with `workflow:`: each task's last state and result."""
    phase = f"- Goal: “{_quote(flow.get('goal', ''))}”; phase: **{flow.get('phase', '?')}**"
    if flow.get("reason"):
        phase += f" ({_quote(flow['reason'], 200)})"
    out = ["", "## Board", "", phase, ""]
    board = fold_tasks(tasks)
    if not board:
        return [*out, "(no tasks: the plan was not approved)"]
    out += ["| task | title | state | assignee | attempts | result |", "|---|---|---|---|---|---|"]
    rank = {state: i for i, state in enumerate(TASK_STATES)}
    for t in sorted(board.values(), key=lambda t: (t.order, rank.get(t.state, len(rank)))):
        result = t.reason if t.state in ("blocked", "skipped", "cancelled") else (
            t.summary if t.state == "done" else t.feedback or t.summary)
        out.append(f"| {_cell(t.task_id, 40)} | {_cell(t.title, 60)} | {t.state} | "
                   f"{_cell(t.assignee, 40)} | {t.attempt} | {_cell(result, 200)} |")
    return out


def export_markdown(run: dict[str, Any], events: list[ev.Event]) -> str:
    """A readable transcript: overview, the task board (a run with `workflow:`), messages,
    decisions, then each agent's timeline."""
    backends: dict[str, str] = {}
    statuses: dict[str, tuple[str, str]] = {}
    calls: dict[str, list[tuple[ev.Event, ev.Event | None]]] = defaultdict(list)
    open_calls: dict[tuple[str, str], int] = {}
    messages: list[dict[str, Any]] = []
    interrupts: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, Any]] = {}
    finished: dict[str, Any] = {}
    shared: list[dict[str, Any]] = []  # every version of the team's shared context
    tasks: list[dict[str, Any]] = []  # every `task` event: the board is their fold
    flow: dict[str, Any] | None = None  # the latest `workflow` event
    restarts = 0
    for e in events:
        d = e.data
        if e.type == ev.RUN_STARTED:
            backends.update(d.get("backends") or {})
            restarts += 1 if d.get("resumed") else 0
        elif e.type == ev.AGENT_STATUS and e.agent:
            statuses[e.agent] = (d.get("status", ""), d.get("reason", ""))
        elif e.type == ev.TOOL_CALL and e.agent and not d.get("resumed"):
            open_calls[(e.agent, d["call_id"])] = len(calls[e.agent])
            calls[e.agent].append((e, None))
        elif e.type == ev.TOOL_RESULT and e.agent:
            idx = open_calls.pop((e.agent, d["call_id"]), None)
            if idx is not None:
                calls[e.agent][idx] = (calls[e.agent][idx][0], e)
        elif e.type == ev.MESSAGE:
            messages.append(d)
        elif e.type == ev.INTERRUPT and not d.get("restored"):
            interrupts[d["id"]] = {**d, "agent": e.agent}
        elif e.type == ev.INTERRUPT_ANSWERED:
            answers[d["id"]] = d.get("answer") or {}
        elif e.type == ev.RUN_FINISHED:
            finished = d
        elif e.type == ev.SHARED_CONTEXT:
            shared.append(d)
        elif e.type == ev.TASK:
            tasks.append(d)
        elif e.type == ev.WORKFLOW:
            flow = d
    agents = json.loads(run["agents"]) if isinstance(run.get("agents"), str) else run["agents"]
    out = [f"# Run {run['id']} — team {run['team']}", ""]
    out.append(f"- Started: {_when(run.get('started'))}; finished: {_when(run.get('finished'))}; "
               f"status: **{run.get('status')}**")
    if restarts:
        out.append(f"- Resumed {restarts} time(s) after a stop")
    out.append("- Sandboxes: " + ", ".join(f"{a} {backends.get(a, '?')}" for a in agents))
    out += ["", "## Agents", "", "| agent | status | tool calls | errors | summary |",
            "|---|---|---|---|---|"]
    for a in agents:
        status, reason = statuses.get(a, ("pending", ""))
        n = len(calls[a])
        errors = sum(1 for _, r in calls[a] if r is not None and r.data.get("is_error"))
        out.append(f"| {a} | {status} | {n} | {errors} | {_quote(reason, 120)} |")
    if flow is not None or tasks:
        out += _board_lines(flow or {}, tasks)
    out += ["", "## Messages", ""]
    if not messages:
        out.append("(none)")
    for m in messages:
        kind = m.get("kind")
        tag = f"reply to {m.get('reply_to')}" if kind == "reply" else kind
        to = m.get("to")
        if to == "all":
            to = "all (" + ", ".join(m.get("recipients") or []) + ")"
        out.append(f"- {m.get('id')} {m.get('from')} → {to} ({tag}): “{_quote(m.get('text', ''))}”")
    refused = [(a, c, r) for a in agents for c, r in calls[a]
               if c.data["tool"] == "send_message" and r is not None and r.data.get("is_error")]
    for a, c, r in refused:
        out.append(f"- refused: {a} → {c.data['args'].get('to')}: "
                   f"“{_quote(c.data['args'].get('text', ''))}” — {r.data['result'].get('error')}")
    if shared:
        out += ["", "## Shared context", ""]
        out += [f"- version {s.get('version')} by {s.get('by')}: “{_quote(s.get('text', ''))}”"
                for s in shared]
    out += ["", "## Decisions", ""]
    if not interrupts:
        out.append("(none)")
    for iid, intr in interrupts.items():
        kind = intr.get("kind")
        line = f"- {iid} {kind} from {intr.get('agent')}: “{_quote(intr.get('prompt', ''))}”"
        if intr.get("command"):
            line += f" `{intr['command']}` ({intr.get('reason')})"
        line += f" — {_answer_text(kind, answers.get(iid))}"
        out.append(line)
        for step_text in intr.get("steps") or []:
            out.append(f"  - {step_text}")
    for a in agents:
        out += ["", f"## {a}", ""]
        if not calls[a]:
            out.append("(no tool calls)")
        for n, (call, result) in enumerate(calls[a], 1):
            lines = _call_line(call.data["tool"], call.data.get("args") or {},
                               result.data if result else None)
            out.append(f"{n}. {lines[0]}")
            out += lines[1:]
    if finished:
        out += ["", f"Run {finished.get('status')}: {finished.get('reason', '')}"]
    return visible_controls("\n".join(out) + "\n")
