"""The run as the control center sees it: a pure function of the event stream.

`RunState.apply(event)` folds one engine event into plain dataclasses; the widgets
render from them.  Nothing here imports Textual, so it is unit-tested directly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine import events as ev
from engine.schedules.state import ScheduleState
from tui.board_state import BoardState

LAST_TOOL_CALLS = 20


@dataclass
class ToolCallView:
    call_id: str
    tool: str
    args: dict[str, Any]
    is_error: bool | None = None  # None while it runs
    error: str = ""  # why it was refused or failed (the tool result's error text)


def error_reason(result: object) -> str:
    """The reason of an error tool result (``{"error": text}`` or any other shape)."""
    if isinstance(result, dict) and "error" in result:
        return str(result["error"])
    return result if isinstance(result, str) else str(result or "")


@dataclass
class AgentView:
    id: str
    type: str = ""
    status: str = ev.PENDING
    activity: str = ""
    tool_calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    backend: str = ""
    sandbox: str = ""  # container short id or LOCAL, known once the engine started
    plan: list[str] = field(default_factory=list)  # the approved plan, as edited
    plan_note: str = ""  # "approved", "approved as edited", "rejected: feedback"
    last_calls: deque[ToolCallView] = field(default_factory=lambda: deque(maxlen=LAST_TOOL_CALLS))
    connections: int = 0  # through the egress proxy (engine/network.py)
    refused: int = 0
    last_connections: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LAST_TOOL_CALLS))

    @property
    def finished(self) -> bool:
        return self.status in ev.TERMINAL_STATUSES


@dataclass
class MessageView:
    id: str
    ts: float
    sender: str
    to: str
    recipients: list[str]
    kind: str
    text: str
    reply_to: str | None = None

    def involves(self, agent: str) -> bool:
        return agent == self.sender or agent == self.to or agent in self.recipients


@dataclass
class InterruptView:
    id: str
    agent: str
    kind: str
    prompt: str
    blocking: bool
    ts: float
    options: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    command: str = ""
    reason: str = ""
    timeout: float | None = None
    path: str = ""  # a write_file approval: the file to write
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, content) shown
    task: str = ""  # a task_blocked interrupt: the task's id on the board
    network: dict[str, Any] = field(default_factory=dict)  # a held request: host, port, method, program


@dataclass
class Notice:
    level: str
    text: str


class RunState:
    """Everything the screens show, rebuilt from events only."""

    def __init__(self, team: str, run_id: str, agents: list[tuple[str, str]]) -> None:
        self.team = team
        self.run_id = run_id
        self.agents: dict[str, AgentView] = {a: AgentView(a, t) for a, t in agents}
        self.messages: list[MessageView] = []
        self._messages_by_id: dict[str, MessageView] = {}
        self.interrupts: dict[str, InterruptView] = {}  # pending only, oldest first
        self.notices: list[Notice] = []
        self.team_tokens = 0
        self.team_cost = 0.0
        self.run_status = "starting"  # starting | running | <run_finished status>
        self.finish_reason = ""
        self.started_ts: float | None = None
        self.board = BoardState()  # the workflow's tasks (tui/board_state.py)
        self.schedules: dict[str, ScheduleState] = {}  # scheduled agents (engine/schedules)

    @property
    def finished(self) -> bool:
        return self.run_status not in ("starting", "running")

    @property
    def unsandboxed(self) -> list[str]:
        return [a.id for a in self.agents.values() if a.backend == "local"]

    def counts(self) -> dict[str, int]:
        """Agents by outcome; once the run ended, one that never ended is `stopped`."""
        out = {"active": 0, "idle": 0, "done": 0, "failed": 0, "cancelled": 0, "stopped": 0}
        for a in self.agents.values():
            if a.status in (ev.IDLE, ev.OFFLINE) and not self.finished:  # between firings
                out["idle"] += 1
            elif a.status == ev.DONE:
                out["done"] += 1
            elif a.status == ev.FAILED:
                out["failed"] += 1
            elif a.status == ev.CANCELLED:
                out["cancelled"] += 1
            elif self.finished:
                out["stopped"] += 1
            else:
                out["active"] += 1
        return out

    def message(self, message_id: str) -> MessageView | None:
        return self._messages_by_id.get(message_id)

    def agents_still_running(self) -> list[str]:
        if self.finished:
            return []
        return [a.id for a in self.agents.values() if not a.finished]

    def _agent(self, agent_id: str | None) -> AgentView | None:
        if agent_id is None:
            return None
        view = self.agents.get(agent_id)
        if view is None:  # an agent the roster did not announce: show it anyway
            view = self.agents[agent_id] = AgentView(agent_id)
        return view

    def apply(self, event: ev.Event) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)

    # -- handlers, one per event type -----------------------------------------
    def _run_started(self, e: ev.Event) -> None:
        self.run_status = "running"
        self.started_ts = e.ts
        self.team = e.data.get("team", self.team)
        for agent_id in e.data.get("agents", []):
            self._agent(agent_id)
        for agent_id, backend in (e.data.get("backends") or {}).items():
            view = self._agent(agent_id)
            assert view is not None
            view.backend = backend
            if backend == "local" and not view.sandbox:
                view.sandbox = "LOCAL"

    def _run_finished(self, e: ev.Event) -> None:
        self.run_status = e.data.get("status", "finished")
        self.finish_reason = e.data.get("reason", "")
        for agent_id, status in (e.data.get("agents") or {}).items():
            view = self._agent(agent_id)
            if view is not None:
                view.status = status

    def _agent_status(self, e: ev.Event) -> None:
        view = self._agent(e.agent)
        if view is not None:
            view.status = e.data.get("status", view.status)
            view.activity = e.data.get("activity", "")

    def _tool_call(self, e: ev.Event) -> None:
        view = self._agent(e.agent)
        if view is None:
            return
        if e.data.get("resumed"):  # a resumed run goes on with a call made before the stop
            for call in view.last_calls:
                if call.call_id == e.data.get("call_id"):
                    call.is_error = None
                    return
        view.tool_calls += 1
        view.last_calls.append(ToolCallView(e.data.get("call_id", ""), e.data.get("tool", ""),
                                            e.data.get("args") or {}))

    def _tool_result(self, e: ev.Event) -> None:
        view = self._agent(e.agent)
        if view is None:
            return
        for call in reversed(view.last_calls):
            if call.call_id == e.data.get("call_id"):
                call.is_error = bool(e.data.get("is_error"))
                call.error = error_reason(e.data.get("result")) if call.is_error else ""
                break

    def _message(self, e: ev.Event) -> None:
        d = e.data
        if d.get("id") in self._messages_by_id:  # seen already (a resumed run's history)
            return
        msg = MessageView(d.get("id", ""), e.ts, d.get("from", ""), d.get("to", ""),
                          list(d.get("recipients") or []), d.get("kind", ""), d.get("text", ""),
                          d.get("reply_to"))
        self.messages.append(msg)
        self._messages_by_id[msg.id] = msg

    def _interrupt(self, e: ev.Event) -> None:
        d = e.data
        if d.get("id") in self.interrupts:  # re-emitted (`restored`) by a resumed run
            return
        self.interrupts[d["id"]] = InterruptView(
            d["id"], e.agent or "", d.get("kind", ""), d.get("prompt", ""),
            bool(d.get("blocking", True)), e.ts, list(d.get("options") or []),
            list(d.get("steps") or []), d.get("command", "") or "", d.get("reason", "") or "",
            d.get("timeout"), str(d.get("path") or ""),
            [(str(f.get("path", "")), str(f.get("content", ""))) for f in d.get("files") or []
             if isinstance(f, dict)], str(d.get("task_id") or d.get("task") or ""),
            {k: d[k] for k in ("host", "port", "method", "program") if k in d})

    def _interrupt_answered(self, e: ev.Event) -> None:
        intr = self.interrupts.pop(e.data.get("id", ""), None)
        answer = e.data.get("answer") or {}
        if intr is None or intr.kind != "plan_approval" or not isinstance(answer, dict):
            return
        view = self._agent(intr.agent)
        assert view is not None
        if answer.get("approved"):
            edited = answer.get("steps")
            view.plan = [str(s) for s in edited] if isinstance(edited, list) else intr.steps
            view.plan_note = "approved as edited" if isinstance(edited, list) else "approved"
        elif not answer.get("withdrawn"):
            view.plan_note = f"rejected: {answer.get('text') or 'no feedback'}"

    def _usage(self, e: ev.Event) -> None:
        view = self._agent(e.agent)
        if view is not None:
            view.tokens = int(e.data.get("agent_tokens", view.tokens))
            view.cost = float(e.data.get("agent_cost", view.cost))
        self.team_tokens = int(e.data.get("team_tokens", self.team_tokens))
        self.team_cost = float(e.data.get("team_cost", self.team_cost))

    def _connection(self, e: ev.Event) -> None:
        view = self._agent(e.agent)
        if view is not None:
            view.connections += 1
            view.refused += 0 if e.data.get("allowed") else 1
            view.last_connections.append(dict(e.data))

    def _notice(self, e: ev.Event) -> None:
        self.notices.append(Notice(e.data.get("level", "info"), e.data.get("text", "")))

    def _task(self, e: ev.Event) -> None:
        self.board.apply_task(e.ts, e.data)

    def _schedule(self, e: ev.Event) -> None:
        if e.agent:
            self.schedules.setdefault(e.agent, ScheduleState(e.agent)).fold(e.data, e.ts)

    def _workflow(self, e: ev.Event) -> None:
        self.board.apply_workflow(e.data)


_HANDLERS = {
    ev.RUN_STARTED: RunState._run_started,
    ev.RUN_FINISHED: RunState._run_finished,
    ev.AGENT_STATUS: RunState._agent_status,
    ev.TOOL_CALL: RunState._tool_call,
    ev.TOOL_RESULT: RunState._tool_result,
    ev.MESSAGE: RunState._message,
    ev.INTERRUPT: RunState._interrupt,
    ev.INTERRUPT_ANSWERED: RunState._interrupt_answered,
    ev.USAGE: RunState._usage,
    ev.NOTICE: RunState._notice,
    ev.TASK: RunState._task,
    ev.WORKFLOW: RunState._workflow,
    ev.CONNECTION: RunState._connection,
    ev.SCHEDULE: RunState._schedule,
}
