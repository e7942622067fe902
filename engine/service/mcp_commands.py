"""Control commands the MCP server (`agentorch-tui mcp`) needs beyond the headless ones.

`agents` (status, activity, usage), `send_to_agent` (a message from the person, as a
request when a reply is wanted; the client is named in its event and on screen),
`agent_messages` (one agent's messages after a given one), `interrupts` (what waits
for the person) and `agent_socket` (where an agent's own MCP socket is, for
`mcp --agent`: only a client of the owner's control socket can ask).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.config import ALL
from engine.messaging import NOTIFY, REQUEST, USER, MessageError
from engine.recording import ControlError
from engine.service.commands import Command, command

if TYPE_CHECKING:
    from engine.run import Engine

#: the most messages `agent_messages` returns at once
MAX_MESSAGES = 200
#: ids of the tasks `assign_task` adds (o1, o2, ...: the orchestrator's)
ASSIGNED_PREFIX = "o"


@command("agents")
async def _agents(engine: Engine, cmd: Command) -> list[dict[str, Any]]:
    out = []
    for agent_id, rt in engine.agents.items():
        usage = engine.budget.per_agent.get(agent_id)
        out.append({"id": agent_id, "type": rt.config.type or "", "status": rt.status,
                    "activity": rt.activity, "tool_calls": rt.tool_calls,
                    "messages_waiting": rt.messages_waiting,
                    "may_message": list(rt.allowed_recipients),
                    "usage": usage.as_dict() if usage is not None else {}})
    return out


@command("send_to_agent")
async def _send_to_agent(engine: Engine, cmd: Command) -> dict[str, Any]:
    to = cmd.need("to")
    wait_reply = bool(cmd.get("wait_reply"))
    if wait_reply and to == ALL:
        raise ControlError("wait_reply is not possible with a broadcast; send to one agent")
    rt = engine._agent(to) if to != ALL else None
    if engine.finished.is_set():
        raise ControlError("the run has ended: no agent reads messages any more")
    if rt is not None and rt.finished:
        raise ControlError(f"{ev.ended_text(to, rt.status)}: it reads no more messages")
    try:
        env = await engine.post.send(USER, to, cmd.need("text"), REQUEST if wait_reply else NOTIFY)
    except MessageError as exc:
        raise ControlError(str(exc)) from None
    if cmd.via:  # who spoke for the person, on screen and in the log
        await engine.emit(ev.NOTICE, level="info", message=env.id, via=cmd.via,
                          text=f"message {env.id} to {to} sent by {cmd.via}")
    return {"id": env.id, "delivered_to": list(env.recipients)}


@command("agent_messages")
async def _agent_messages(engine: Engine, cmd: Command) -> list[dict[str, Any]]:
    agent = cmd.need("agent")
    engine._agent(agent)
    since = cmd.optional("since") or "m0"
    after = int(since[1:]) if since[:1] == "m" and since[1:].isdigit() else None
    if after is None:
        raise ControlError("`since` is a message id such as m12 (the newest you have seen)")
    await engine.durable()
    rows = await engine.store.query(
        "SELECT data FROM events WHERE run_id=? AND type='message' "
        "AND CAST(substr(json_extract(data, '$.id'), 2) AS INTEGER) > ? AND (agent=? OR EXISTS "
        "(SELECT 1 FROM json_each(json_extract(data, '$.recipients')) WHERE value=?)) "
        "ORDER BY seq LIMIT ?", (engine.run_id, after, agent, agent, MAX_MESSAGES))
    out = []
    for (data,) in rows:
        d = json.loads(data)
        out.append({"id": d.get("id"), "from": d.get("from"), "to": d.get("to"),
                    "kind": d.get("kind"), "text": d.get("text"), "reply_to": d.get("reply_to")})
    return out


@command("interrupts")
async def _interrupts(engine: Engine, cmd: Command) -> list[dict[str, Any]]:
    return [{"agent": i.agent, **i.payload()} for i in engine.interrupts.pending()]


@command("agent_socket")
async def _agent_socket(engine: Engine, cmd: Command) -> dict[str, Any]:
    agent = cmd.need("agent")
    engine._agent(agent)
    views = engine.agent_views
    path = views.socket_of(agent) if views is not None else None
    if path is None:
        raise ControlError(f"{agent} has no MCP socket in this run")
    return {"agent": agent, "socket": str(path)}


@command("assign_task")
async def _assign_task(engine: Engine, cmd: Command) -> dict[str, Any]:
    """A task for one agent on the running board, started as soon as the agent is free;
    it goes through review and QA like the plan's tasks."""
    from engine.workflow import board as b

    wf = _board(engine)
    agent = cmd.need("agent")
    if agent not in wf.assignable():
        raise ControlError(f"unknown agent {agent!r}; agents: {', '.join(wf.assignable())}")
    if wf.phase != b.PHASE_RUNNING:
        raise ControlError(f"the board is {wf.phase or 'not started'}: a task can be added while "
                           "the plan runs (after the person approved it)")
    number = 1 + sum(1 for t in wf.tasks if t.startswith(ASSIGNED_PREFIX))
    while f"{ASSIGNED_PREFIX}{number}" in wf.tasks:  # the planner may use such ids too
        number += 1
    task_id = f"{ASSIGNED_PREFIX}{number}"
    pending = [t.order for t in wf.tasks.values() if t.state not in b.SATISFIED_STATES]
    order = min(pending) if pending else max((t.order for t in wf.tasks.values()), default=0)
    task = b.Task(task_id, cmd.need("title"), cmd.text("description"), assignee=agent,
                  order=order, max_attempts=wf.config.max_attempts)
    wf.tasks[task_id] = task
    await wf.emit_task(task)
    if cmd.via:
        await engine.emit(ev.NOTICE, level="info", task=task_id, via=cmd.via,
                          text=f"task {task_id} for {agent} added by {cmd.via}")
    await wf.advance()
    return {"task_id": task_id, "state": task.state, "assignee": agent}


@command("task_result")
async def _task_result(engine: Engine, cmd: Command) -> dict[str, Any]:
    task_id = cmd.need("task")
    task = _board(engine).tasks.get(task_id)
    if task is None:
        raise ControlError(f"no task {task_id!r} on the board")
    record = task.event_data()
    return {k: record.get(k) for k in ("task_id", "title", "state", "assignee", "attempt",
                                       "summary", "feedback", "qa_output", "reason")}


def _board(engine: Engine) -> Any:
    wf = getattr(engine, "workflow", None)
    if wf is None:
        raise ControlError("this team has no task board (`workflow:` in its team file); use "
                           "send_to_agent")
    return wf


def reply_of(event: ev.Event, request_id: str) -> dict[str, Any] | None:
    """The reply to the person's request ``request_id`` when ``event`` is it."""
    d = event.data
    if event.type == ev.MESSAGE and d.get("reply_to") == request_id and d.get("to") == USER:
        return {"id": d.get("id"), "from": d.get("from"), "text": d.get("text")}
    return None
