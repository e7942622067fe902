"""Interrupts: what waits for the person.  Durable, answered exactly once.

Bounded: a blocking interrupt parks its agent, so an agent has at most one at a time.
Non-blocking ones (progress reports) are capped per agent at `limits.pending_interrupts`:
past it, a new report takes the place of the agent's newest pending one, which is
withdrawn as ``folded_into`` the new one (whose ``folded`` counts the reports it stands
for).  Answered interrupts leave memory (the store keeps them).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.numbers import NumberError, checked_number

if TYPE_CHECKING:
    from engine.run import Engine

USER_INPUT = "user_input"
DEBUG_REQUEST = "debug_request"
PROGRESS_REPORT = "progress_report"
PLAN_APPROVAL = "plan_approval"
COMMAND_APPROVAL = "command_approval"
BUDGET = "budget"
DISK = "disk"
NETWORK = "network"
TASK_BLOCKED = "task_blocked"  # the workflow: retry, reassign, skip or cancel
KINDS = (USER_INPUT, DEBUG_REQUEST, PROGRESS_REPORT, PLAN_APPROVAL, COMMAND_APPROVAL, BUDGET, DISK,
         NETWORK, TASK_BLOCKED)
#: answers of a `network` interrupt (a held request): approve = once, reject = deny
NETWORK_CHOICES = ("once", "run", "always", "deny")
#: the highest budget a person can give in an answer (a typo guard, not a policy)
MAX_LIMIT_TOKENS = 10**12
MAX_LIMIT_DOLLARS = 1_000_000.0
APPROVAL_KINDS = (PLAN_APPROVAL, COMMAND_APPROVAL)


class InterruptError(Exception):
    """A control command about an interrupt that cannot be carried out."""


@dataclass
class Interrupt:
    id: str
    agent: str
    kind: str
    prompt: str
    blocking: bool
    created: float
    extra: dict[str, Any] = field(default_factory=dict)  # options, steps, command, reason
    answer: dict[str, Any] | None = None
    future: asyncio.Future | None = None

    @property
    def pending(self) -> bool:
        return self.answer is None

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "prompt": self.prompt,
                "blocking": self.blocking, **self.extra}


class InterruptQueue:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.items: dict[str, Interrupt] = {}  # the pending ones
        self._answered: set[str] = set()
        self._counter = 0

    def pending(self) -> list[Interrupt]:
        return sorted((i for i in self.items.values() if i.pending), key=lambda i: i.created)

    def _next_id(self) -> str:
        self._counter += 1
        return f"i{self._counter}"

    async def raise_(self, agent: str, kind: str, prompt: str, *, blocking: bool = True,
                     **extra: Any) -> Interrupt:
        rt = self.engine.agents.get(agent)
        if rt is not None and rt.current_call_id is not None:
            extra.setdefault("call_id", rt.current_call_id)
        folded = None if blocking else self._to_fold(agent)
        if folded is not None:
            extra["folded"] = folded.extra.get("folded", 1) + 1
        intr = Interrupt(self._next_id(), agent, kind, prompt, blocking, self.engine.now(),
                         {k: v for k, v in extra.items() if v is not None})
        intr.future = asyncio.get_running_loop().create_future()
        self.items[intr.id] = intr
        store = self.engine.store
        store.execute("INSERT OR REPLACE INTO interrupts (run_id, id, agent, kind, payload, blocking,"
                      " created) VALUES (?,?,?,?,?,?,?)",
                      (self.engine.run_id, intr.id, agent, kind, json.dumps(intr.payload()),
                       int(blocking), intr.created))
        await self.engine.emit(ev.INTERRUPT, agent, **intr.payload())
        if folded is not None and folded.pending:  # nobody waits on a report: no durable()
            await self._record(folded, {"withdrawn": True, "folded_into": intr.id,
                                        "text": f"folded into {intr.id}"})
            if folded.future is not None and not folded.future.done():
                folded.future.set_result(folded.answer)
        # --auto-approve never approves agents created at run time
        if self.engine.auto_approve and kind in APPROVAL_KINDS and not intr.extra.get("new_agents"):
            await self.answer(intr.id, {"approved": True, "by": "auto-approve"})
        if blocking and intr.pending:
            command = intr.extra.get("command") or intr.extra.get("path")
            self.engine.notifier.blocked(intr.id, agent, kind,
                                         f"{prompt}\n{command}" if command else prompt)
        return intr

    def _to_fold(self, agent: str) -> Interrupt | None:
        """The agent's newest pending report, when it has as many as the limit allows."""
        mine = [i for i in self.items.values() if i.agent == agent and not i.blocking]
        if len(mine) < self.engine.team.limits.pending_interrupts:
            return None
        return max(mine, key=lambda i: (i.created, int(i.id[1:]) if i.id[1:].isdigit() else 0))

    def restore(self, intr: Interrupt) -> None:
        """Put back an interrupt recorded by an earlier process (resume)."""
        intr.future = asyncio.get_running_loop().create_future()
        if intr.answer is not None:
            intr.future.set_result(intr.answer)
            self._answered.add(intr.id)
        else:
            self.items[intr.id] = intr
        if intr.id[1:].isdigit():
            self._counter = max(self._counter, int(intr.id[1:]))

    async def wait(self, intr: Interrupt) -> dict[str, Any]:
        assert intr.future is not None
        return await asyncio.shield(intr.future)

    async def answer(self, interrupt_id: str, answer: dict[str, Any]) -> Interrupt:
        intr = self.items.get(interrupt_id)
        if intr is None:
            if interrupt_id in self._answered:
                raise InterruptError(f"interrupt {interrupt_id} was already answered")
            known = ", ".join(i.id for i in self.pending()) or "none pending"
            raise InterruptError(f"no interrupt {interrupt_id!r} in this run ({known})")
        _validate(intr, answer)
        if intr.kind == TASK_BLOCKED:
            from engine.workflow.answers import AnswerError, check_blocked_answer

            try:
                check_blocked_answer(self.engine, answer)
            except AnswerError as exc:
                raise InterruptError(str(exc)) from None
        await self._record(intr, answer)
        await self.engine.durable()  # recorded before the agent acts on it
        if intr.future is not None and not intr.future.done():
            intr.future.set_result(answer)
        return intr

    async def _record(self, intr: Interrupt, answer: dict[str, Any]) -> None:
        intr.answer = answer
        del self.items[intr.id]
        self._answered.add(intr.id)
        self.engine.store.execute(
            "UPDATE interrupts SET answer=?, answered=? WHERE run_id=? AND id=?",
            (json.dumps(answer), self.engine.now(), self.engine.run_id, intr.id))
        await self.engine.emit(ev.INTERRUPT_ANSWERED, intr.agent, id=intr.id, kind=intr.kind,
                               answer=answer)

    async def withdraw_for(self, agent: str, reason: str) -> None:
        """An agent was cancelled: its pending interrupts no longer need an answer."""
        for intr in self.pending():
            if intr.agent == agent:
                await self.answer(intr.id, {"withdrawn": True, "text": reason})


def _validate(intr: Interrupt, answer: dict[str, Any]) -> None:
    if answer.get("withdrawn"):
        return
    if intr.kind == NETWORK:
        choice = answer.get("choice") or answer.get("text") or (
            {True: "once", False: "deny"}.get(answer["approved"]) if "approved" in answer else None)
        if choice not in NETWORK_CHOICES:
            raise InterruptError(f"interrupt {intr.id} is a held network request: answer it with "
                                 f"a choice of {', '.join(NETWORK_CHOICES)}")
        answer["choice"] = choice
        return
    if intr.kind in APPROVAL_KINDS or intr.kind in (BUDGET, DISK):
        if "approved" not in answer:
            raise InterruptError(
                f"interrupt {intr.id} is a {intr.kind}: approve or reject it, not answer it")
    if intr.kind == BUDGET:
        for key, high, integer in (("limit_tokens", MAX_LIMIT_TOKENS, True),
                                   ("limit_dollars", MAX_LIMIT_DOLLARS, False)):
            if answer.get(key) is not None:
                try:
                    answer[key] = checked_number(key, answer[key], low=0, high=high,
                                                 integer=integer)
                except NumberError as exc:
                    raise InterruptError(str(exc)) from None
    elif intr.kind == PLAN_APPROVAL and answer.get("steps") is not None:
        steps = answer["steps"]
        if (not isinstance(steps, list) or not steps
                or not all(isinstance(s, str) and s.strip() for s in steps)):
            raise InterruptError("steps must be a list of non-empty texts (the edited plan)")
    elif intr.kind in (USER_INPUT, DEBUG_REQUEST):
        if not isinstance(answer.get("text"), str):
            raise InterruptError(f"interrupt {intr.id} is a {intr.kind}: it needs a text answer")
