"""Events: every state change of a run, frozen, numbered and time-stamped.

The engine appends each event to the store and fans it out on the bus.  The UI
and headless mode are pure consumers of this stream; a resumed run is rebuilt
from it.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from engine.control_chars import escape_json_controls

#: the version of the events' format, recorded with each run (`events_version` in its
#: meta; runs recorded before versions are version 1): a newer one is refused in one sentence
EVENTS_VERSION = 1


def newer_events_problem(run: dict[str, Any]) -> str:
    """"" when this agentorch can read ``run``'s events, else why not."""
    try:
        version = json.loads(run.get("meta") or "{}").get("events_version", 1)
    except (ValueError, AttributeError):
        version = 1
    if isinstance(version, int) and version > EVENTS_VERSION:
        return (f"run {run['id']} was recorded by a newer agentorch (events version "
                f"{version}; this one reads {EVENTS_VERSION}): upgrade agentorch to replay, "
                "export or resume it")
    return ""


# The event types.  `data` carries the type-specific fields.
RUN_STARTED = "run_started"
RUN_FINISHED = "run_finished"
AGENT_STATUS = "agent_status"  # status, activity, (reason)
TOOL_CALL = "tool_call"  # call_id, tool, args
TOOL_RESULT = "tool_result"  # call_id, tool, is_error, result
MESSAGE = "message"  # id, from, to, kind, text, reply_to
MESSAGE_REFUSED = "message_refused"
INTERRUPT = "interrupt"  # id, kind, prompt, blocking, options/steps/command/reason
INTERRUPT_ANSWERED = "interrupt_answered"  # id, kind, answer
CONSOLE = "console"  # text (a chunk of output) | command (start) | exit_code (end)
MEMORY_UPDATED = "memory_updated"
ASSISTANT_TEXT = "assistant_text"  # streaming text of a model
USAGE = "usage"
BUDGET_WARNING = "budget_warning"
NOTICE = "notice"  # level, text: something the person should see (e.g. LOCAL fallback)
ERROR = "error"  # a refused control command, a malformed headless line
WORKSPACE = "workspace"  # repo, branch, base_branch, base: an agent's clone (repo:)
CHECKPOINT = "checkpoint"  # call_id, commit, changed, files, (skipped, unreadable): after a change
MERGED = "merged"  # branch, into, how, commit, text: an agent's work merged (repo:)
#: one task's full record after each change (engine.workflow.board documents the fields)
TASK = "task"
WORKFLOW = "workflow"  # goal, phase (planning|checking|approval|running|done|stopped), attempt
SHARED_CONTEXT = "shared_context"  # version, text, by: the team's shared context changed
CONNECTION = "connection"  # host, port, method, allowed, reason, address, up, down: egress proxy
SCHEDULE = "schedule"  # action (fired|skipped|queued|completed|failed|missed|...), planned, next
CLAIM = "claim"  # key, holder, until, (refused_by): a work claim taken or refused
BUDGET_RESET = "budget_reset"  # scope, owner, period: a period budget starts over

EVENT_TYPES = (
    RUN_STARTED, RUN_FINISHED, AGENT_STATUS, TOOL_CALL, TOOL_RESULT, MESSAGE,
    MESSAGE_REFUSED, INTERRUPT, INTERRUPT_ANSWERED, CONSOLE, MEMORY_UPDATED,
    ASSISTANT_TEXT, USAGE, BUDGET_WARNING, NOTICE, ERROR, WORKSPACE, CHECKPOINT,
    MERGED, TASK, WORKFLOW, SHARED_CONTEXT, CONNECTION, SCHEDULE, CLAIM, BUDGET_RESET,
)


class Event(NamedTuple):
    """One state change.  Immutable; a NamedTuple because the engine makes one per
    event on its hottest path and a tuple is several times cheaper to build than
    a frozen dataclass."""

    type: str
    run_id: str
    seq: int
    ts: float
    agent: str | None = None
    data: dict[str, Any] = {}  # noqa: RUF012 - never mutated; the engine always passes one

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "seq": self.seq, "ts": self.ts,
                               "run_id": self.run_id}
        if self.agent is not None:
            out["agent"] = self.agent
        for key, value in self.data.items():
            out.setdefault(key, value)
        return out

    def to_json(self) -> str:
        """One JSON line (headless, `events`, the jsonl export): no raw control character."""
        return escape_json_controls(json.dumps(self.to_dict(), ensure_ascii=False, default=str))

    @classmethod
    def from_row(cls, run_id: str, seq: int, ts: float, type: str, agent: str | None,
                 data: str) -> Event:
        return cls(type, run_id, seq, ts, agent, json.loads(data))


# Agent statuses
PENDING = "pending"
STARTING = "starting"
PLANNING = "planning"
AWAITING_APPROVAL = "awaiting_approval"
RUNNING = "running"
WAITING_REPLY = "waiting_reply"
WAITING_MESSAGE = "waiting_message"
WAITING_USER = "waiting_user"
PAUSED = "paused"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
IDLE = "idle"  # a scheduled agent waiting for its next firing
OFFLINE = "offline"  # a scheduled agent that has completed no firing for too long

TERMINAL_STATUSES = frozenset({DONE, FAILED, CANCELLED})


def ended_text(agent_id: str, status: str) -> str:
    """`coder has finished`, `coder has failed`, `coder was cancelled`."""
    words = {DONE: "has finished", FAILED: "has failed", CANCELLED: "was cancelled"}
    return f"{agent_id} {words.get(status, f'has ended ({status})')}"
