"""Rebuilding a run from the store so it can go on after any stop (even kill -9).

The event log is the source of truth.  From it we recover, per agent, how far
its brain got, the call that was running, whether its plan was approved and
its last unanswered request; from the messages and interrupts tables, the
inboxes and the interrupts still waiting for the person.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine import events as ev
from engine.brains.base import InboxMessage, ToolCall, ToolResult
from engine.command_policy import workspace_path
from engine.config import TeamConfig
from engine.interrupts import (
    COMMAND_APPROVAL,
    DEBUG_REQUEST,
    PLAN_APPROVAL,
    USER_INPUT,
    Interrupt,
)
from engine.messaging import REPLY, REQUEST, Envelope

if TYPE_CHECKING:
    from engine.run import Engine
    from memory.store import Store

STOPPED_REASON = "run stopped"
#: the kinds a CLI agent's turn raises (its approvals, its MCP questions, retry-or-stop)
TURN_KINDS = (COMMAND_APPROVAL, PLAN_APPROVAL, USER_INPUT, DEBUG_REQUEST)
#: why a coding CLI's open interrupt is closed on resume (its answer would reach nobody)
STALE_TEXT = "the turn that asked ended when the engine stopped; the agent asks again"


class ResumeError(Exception):
    """The run cannot be resumed (one clear sentence)."""


@dataclass
class CallFacts:
    """What an unfinished call had already done before the process died."""

    command_started: bool = False
    output: str = ""
    interrupt: Interrupt | None = None
    message: Envelope | None = None
    memory_updated: bool = False


@dataclass
class AgentState:
    status: str = ev.PENDING
    reason: str = ""
    calls: int = 0  # tool calls recorded (the scripted brain's position)
    results: int = 0
    tool_calls: int = 0
    unfinished: ToolCall | None = None
    facts: CallFacts = field(default_factory=CallFacts)
    plan_approved: bool = False
    written: set[str] = field(default_factory=set)  # paths write_file wrote (approval prompts)
    last_request: InboxMessage | None = None
    summary: str = ""
    #: results recorded since the agent's last model response (its usage event):
    #: a Claude brain pairs them with the tool_use blocks of its saved conversation
    tail_results: list[ToolResult] = field(default_factory=list)

    @property
    def resumable(self) -> bool:
        if self.status not in ev.TERMINAL_STATUSES:
            return True
        return self.status == ev.CANCELLED and self.reason == STOPPED_REASON


@dataclass
class RunState:
    run: dict[str, Any]
    last_seq: int
    agents: dict[str, AgentState]
    interrupts: list[Interrupt]
    messages: list[tuple[Envelope, str, str]]  # (envelope, recipient, state)
    #: the backend each agent first started on (a run started in Docker stays there)
    backends: dict[str, str] = field(default_factory=dict)

    @property
    def resumable(self) -> bool:
        return any(a.resumable for a in self.agents.values())


async def load_run_state(store: Store, run_id: str) -> RunState:
    run = await store.run(run_id)
    if run is None:
        raise ResumeError(f"no run {run_id!r} in {store.path}; `agentorch-tui runs` lists them")
    rid = run["id"]
    agents: dict[str, AgentState] = {a: AgentState() for a in json.loads(run["agents"])}
    open_calls: dict[str, dict[str, Any]] = {}
    last_seq = 0
    backends: dict[str, str] = {}
    mcp_calls: set[str | None] = set()
    for row in await store.events(rid):
        e = ev.Event.from_row(*row)
        last_seq = e.seq
        if e.type == ev.RUN_STARTED and not e.data.get("resumed"):
            backends = dict(e.data.get("backends") or {})
        st = agents.get(e.agent or "")
        if st is None:
            continue
        d = e.data
        if e.type == ev.AGENT_STATUS:
            st.status, st.reason = d.get("status", st.status), d.get("reason", "")
        elif e.type == ev.TOOL_CALL and d.get("via") == "mcp":  # the agent's MCP client's
            st.tool_calls += 1  # call, not its brain's: never replayed to the brain
            mcp_calls.add(d.get("call_id"))
        elif e.type == ev.TOOL_RESULT and d.get("call_id") in mcp_calls:
            st.results += 1
        elif e.type == ev.TOOL_CALL and not d.get("resumed"):
            st.calls += 1
            st.tool_calls += 1
            open_calls[e.agent] = {"call": ToolCall(d["call_id"], d["tool"], d.get("args") or {}),
                                   "facts": CallFacts()}
        elif e.type == ev.TOOL_RESULT:
            st.results += 1
            open_calls.pop(e.agent, None)
            _learn_from_result(st, d)
            st.tail_results.append(ToolResult(d["call_id"], d["tool"], d.get("result"),
                                              bool(d.get("is_error")),
                                              bool(d.get("interrupted"))))
        elif e.type == ev.USAGE:
            st.tail_results = []
        elif e.type == ev.CONSOLE and e.agent in open_calls:
            facts = open_calls[e.agent]["facts"]
            if d.get("kind") == "command":
                facts.command_started = True
            elif d.get("kind") == "output":
                facts.output += d.get("text", "")
        elif e.type == ev.MEMORY_UPDATED and e.agent in open_calls:
            open_calls[e.agent]["facts"].memory_updated = True
    for agent_id, open_call in open_calls.items():
        agents[agent_id].unfinished = open_call["call"]
        agents[agent_id].facts = open_call["facts"]
    interrupts = await _load_interrupts(store, rid)
    messages = await _load_messages(store, rid)
    for agent_id, st in agents.items():  # link the unfinished call's side effects
        if st.unfinished is None:
            continue
        cid = st.unfinished.id
        st.facts.interrupt = next((i for i in interrupts if i.agent == agent_id
                                   and i.extra.get("call_id") == cid), None)
        st.facts.message = next((env for env, _, _ in messages if env.sender == agent_id
                                 and env.call_id == cid), None)
    return RunState(run, last_seq, agents, interrupts, messages, backends)


def _learn_from_result(st: AgentState, d: dict[str, Any]) -> None:
    result = d.get("result") or {}
    if not isinstance(result, dict):
        return
    tool = d.get("tool")
    if tool == "propose_plan":  # the newest plan decides (a rejected one withdraws)
        st.plan_approved = bool(result.get("approved"))
    elif tool == "wait_for_message" and not d.get("is_error") and result.get("kind") == REQUEST:
        st.last_request = InboxMessage(result["id"], result["from"], result["text"], REQUEST)
    elif tool == "reply" and st.last_request and result.get("reply_to") == st.last_request.id:
        st.last_request = None
    elif tool == "finish":
        st.summary = result.get("summary", "")
    elif tool == "write_file" and not d.get("is_error") and isinstance(result.get("path"), str):
        st.written.add(workspace_path(result["path"]))


async def _load_interrupts(store: Store, run_id: str) -> list[Interrupt]:
    rows = await store.query("SELECT id, agent, kind, payload, blocking, created, answer "
                             "FROM interrupts WHERE run_id=? ORDER BY created", (run_id,))
    out = []
    for r in rows:
        payload = json.loads(r["payload"])
        extra = {k: v for k, v in payload.items()
                 if k not in ("id", "kind", "prompt", "blocking")}
        answer = json.loads(r["answer"]) if r["answer"] else None
        out.append(Interrupt(r["id"], r["agent"], r["kind"], payload.get("prompt", ""),
                             bool(r["blocking"]), r["created"], extra, answer))
    return out


async def _load_messages(store: Store, run_id: str) -> list[tuple[Envelope, str, str]]:
    rows = await store.query("SELECT id, sender, recipient, kind, body, reply_to, ts, state "
                             "FROM messages WHERE run_id=? ORDER BY ts, rowid", (run_id,))
    call_ids = {}
    for e in await store.query("SELECT data FROM events WHERE run_id=? AND type='message'",
                               (run_id,)):
        d = json.loads(e[0])
        call_ids[d["id"]] = (d.get("call_id"), d.get("to"), tuple(d.get("recipients") or ()))
    out = []
    for r in rows:
        call_id, to, recipients = call_ids.get(r["id"], (None, r["recipient"], (r["recipient"],)))
        env = Envelope(r["id"], r["sender"], to or r["recipient"], recipients, r["kind"],
                              r["body"], r["reply_to"], r["ts"], call_id)
        out.append((env, r["recipient"], r["state"]))
    return out


# -- the team configuration recorded at the run's start ------------------------------
def recorded_team(run: dict[str, Any]) -> TeamConfig | None:
    """The team the run was started (or last resumed) with; None for runs of older versions."""
    meta = json.loads(run.get("meta") or "{}")
    data = meta.get("team")
    if not isinstance(data, dict):
        return None
    base = meta.get("base_dir") or "."
    try:
        return TeamConfig.model_validate({**data, "base_dir": base})
    except ValidationError:
        return None


def team_to_resume(run: dict[str, Any], db: str | Path, reload_config: bool,
                   ask_reload: Callable[[str], bool] | None = None) -> tuple[TeamConfig, str]:
    """The team to resume ``run`` with, and a note to show ("" for none).

    The configuration recorded at the run's start, unless the team file changed since
    (an agent may have edited it): then the edited file only with ``reload_config`` or
    when the person says so through ``ask_reload`` (the TUI's dialog); else ResumeError
    naming the changed fields.  ConfigError when the file is needed and has problems.
    """
    from engine.loader import ConfigError, load_team  # the loader imports the engine's parts

    meta = json.loads(run.get("meta") or "{}")
    base = Path(meta["base_dir"]) if meta.get("base_dir") else None
    path, recorded = run["config_path"], recorded_team(run)
    try:
        current, problems = load_team(path, base_dir=base, db=db, check_repo=False), None
    except ConfigError as exc:
        current, problems = None, exc
    if recorded is None:
        if problems is not None:
            raise problems
        return current, (f"run {run['id']} was recorded without its configuration (an older "
                         f"version); resuming with {path} as it is now")
    changes = config_changes(recorded, current) if current is not None else ["it no longer loads"]
    if not changes:
        return recorded, ""
    changed = f"the team file {path} changed since run {run['id']} started ({', '.join(changes)})"
    if current is not None and not reload_config and ask_reload is not None:
        reload_config = ask_reload(f"{changed[0].upper()}{changed[1:]}. An agent may have "
                                   "edited it. Resume with the edited file, or quit and restore it?")
    if not reload_config:
        raise ResumeError(f"{changed}; restore it to resume with the recorded configuration, or "
                          "pass --reload-config to resume with the edited file")
    if problems is not None:
        raise problems
    return current, f"resuming with the edited team file ({', '.join(changes)})"


def config_changes(old: TeamConfig, new: TeamConfig, limit: int = 8) -> list[str]:
    """The fields that differ between two team configurations, e.g. `agents.a.approval`."""
    changed = _diff(_keyed(old.model_dump(mode="json")), _keyed(new.model_dump(mode="json")), "")
    if old.base_dir.resolve() != new.base_dir.resolve():
        changed.insert(0, "base folder")
    return changed[:limit] + ([f"{len(changed) - limit} more"] if len(changed) > limit else [])


def _keyed(data: dict[str, Any]) -> dict[str, Any]:
    """Agents by id rather than by position, so a reordering is not a change."""
    agents = data.get("agents") or []
    return {**data, "agents": {a.get("id", str(i)): a for i, a in enumerate(agents)}}


def _diff(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(f"{where} ({'added' if key in new else 'removed'})")
            else:
                out += _diff(old[key], new[key], where)
        return out
    return [] if old == new else [path]


def apply_run_state(engine: Engine, state: RunState) -> None:
    """Put the recovered interrupts, messages and sequence into a fresh engine."""
    engine.seq = state.last_seq
    for intr in state.interrupts:
        engine.interrupts.restore(intr)
    numbers = [0]
    for env, recipient, msg_state in state.messages:
        engine.post.remember(env)
        if env.id[1:].isdigit():
            numbers.append(int(env.id[1:]))
        if msg_state == "queued" and recipient in engine.post.inboxes:
            engine.post.restore_inbox(recipient, InboxMessage(env.id, env.sender, env.body,
                                                               env.kind, env.reply_to))
    engine.post.restore_counter(max(numbers))


async def close_stale_interrupts(engine: Engine) -> None:
    """A coding CLI's open question died with the turn that asked it (its process, or the
    MCP call waiting for the answer, ended with the engine), and the resumed turn asks
    again: close it as stale (withdrawn, never an approval) rather than show a dead button.
    A built-in agent's interrupt is taken back by its unfinished call: left as it is."""
    for intr in engine.interrupts.pending():
        rt = engine.agents.get(intr.agent)
        if rt is not None and rt.config.is_cli and intr.kind in TURN_KINDS:
            await engine.interrupts.answer(intr.id, {"withdrawn": True, "stale": True,
                                                     "text": STALE_TEXT})


def prepare_agents(engine: Engine, state: RunState) -> None:
    """After the runtimes exist: restore each agent's position and its unfinished call."""
    for agent_id, rt in engine.agents.items():
        st = state.agents.get(agent_id)
        if st is None:
            continue
        rt.tool_calls = st.tool_calls
        rt.steps_done = st.results
        rt.summary = st.summary
        rt.written_paths |= st.written
        if st.plan_approved:
            rt.plan_approved = True
        if st.last_request is not None:
            engine.post.inboxes[agent_id].last_request = st.last_request
        if not st.resumable:
            rt.status = st.status
            continue
        rt.unfinished_call = st.unfinished
        rt.unfinished_facts = st.facts
        if not rt.config.is_scripted:
            rt.resume_results = list(st.tail_results)


__all__ = ["REPLY", "ResumeError", "RunState", "apply_run_state", "close_stale_interrupts",
           "config_changes",
           "load_run_state", "prepare_agents", "recorded_team", "team_to_resume"]
