"""Budgets per period (`budget: {period: {every: day, tokens, dollars, reset_at, tz}}`).

Beside a run's total budget, an agent or the team may have a budget that starts over
every hour, day or week at ``reset_at`` in ``tz`` (a day at 00:00 by default; an hour
at the minute of ``reset_at``; a week on Monday).  Warnings at 50/75/90 % of each
period, as for the run's budget.  At 100 % the agent pauses until the reset, on a
`budget` interrupt (scope `period`): approve with ``limit_tokens`` / ``limit_dollars``
to raise the period's limit, approve without them to let it go on once (one more model
response), reject to stop it; with no answer it goes on by itself at the reset.  Each
reset is a `budget_reset` event.  The totals come from the usage table (times on the
engine's clock), so a restart keeps the period's spending.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.brains.base import Usage
    from engine.budget import BudgetKeeper, Totals
    from engine.interrupts import Interrupt
    from engine.schedules.spec import CronTimes

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class BudgetPeriod(BaseModel):
    """A budget that starts over each period; warnings at 50/75/90 %, a pause at 100 %."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    every: Literal["hour", "day", "week"] = "day"
    """How often it starts over: `hour`, `day` or `week` (Mondays)."""
    tokens: int | None = Field(default=None, gt=0)
    """Tokens allowed per period."""
    dollars: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """US dollars allowed per period."""
    reset_at: str = "00:00"
    """When it starts over, `HH:MM` in `tz` (for `every: hour`, only the minutes count)."""
    tz: str | None = None
    """IANA time zone of `reset_at` (e.g. `Europe/Paris`; default: this machine's zone)."""

    @field_validator("reset_at")
    @classmethod
    def _valid_time(cls, v: str) -> str:
        if not _HH_MM.match(v):
            raise ValueError(f"{v!r} is not a time; write HH:MM, e.g. \"00:00\" or \"06:30\"")
        return v

    @field_validator("tz")
    @classmethod
    def _valid_zone(cls, v: str | None) -> str | None:
        from engine.schedules.spec import checked_zone

        return checked_zone(v)

    def resets(self) -> CronTimes:
        from engine.schedules.spec import CronTimes, local_zone_name

        hour, minute = (int(x) for x in self.reset_at.split(":"))
        expr = {"hour": f"{minute} * * * *", "day": f"{minute} {hour} * * *",
                "week": f"{minute} {hour} * * 1"}[self.every]
        return CronTimes(expr, self.tz or local_zone_name())


def period_problem(period: BudgetPeriod) -> str | None:
    if period.tokens is None and period.dollars is None:
        return "a period budget needs `tokens`, `dollars` or both"
    return None


@dataclass
class PeriodLimit:
    """One period budget (an agent's or the team's) and what the current period used."""

    scope: str  # agent | team
    owner: str
    spec: BudgetPeriod
    times: CronTimes
    start: float
    end: float
    used: Totals
    tokens: int | None = None
    dollars: float | None = None
    warned: set[tuple[str, int]] = field(default_factory=set)
    gate: Interrupt | None = None  # its one interrupt while it is over (the team's is shared)
    reset: asyncio.Event = field(default_factory=asyncio.Event)  # set at the next reset

    def limits(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.tokens is not None:
            out["tokens"] = self.tokens
        if self.dollars is not None:
            out["dollars"] = self.dollars
        return out

    def exceeded(self) -> list[str]:
        return [d for d, lim in self.limits().items() if self.used.used(d) >= lim]

    def new_warnings(self) -> list[tuple[str, int, float, float]]:
        from engine.budget import WARN_AT

        out = []
        for dim, limit in self.limits().items():
            used = self.used.used(dim)
            for pct in WARN_AT:
                if used >= limit * pct / 100 and (dim, pct) not in self.warned:
                    self.warned.add((dim, pct))
                    if used < limit:
                        out.append((dim, pct, used, limit))
        return out


class PeriodKeeper:
    def __init__(self, keeper: BudgetKeeper) -> None:
        from engine.budget import Totals
        from engine.schedules.clock import as_clock

        self.keeper = keeper
        self.engine = keeper.engine
        self.clock = as_clock(self.engine.clock)
        now = self.clock()
        self.limits: dict[str, PeriodLimit] = {}
        team = self.engine.team

        def make(scope: str, owner: str, spec: BudgetPeriod) -> PeriodLimit:
            times = spec.resets()
            start = _period_start(times, now)
            return PeriodLimit(scope, owner, spec, times, start, times.next_after(start), Totals(),
                               spec.tokens, spec.dollars)

        for a in team.agents:
            if a.budget is not None and a.budget.period is not None:
                self.limits[a.id] = make("agent", a.id, a.budget.period)
        self.team = (make("team", team.name, team.budget.period)
                     if team.budget is not None and team.budget.period is not None else None)
        self._tasks: list[asyncio.Task] = []

    def all(self) -> list[PeriodLimit]:
        return [*self.limits.values(), *([self.team] if self.team else [])]

    # -- lifecycle ----------------------------------------------------------------------
    async def restore(self) -> None:
        """On resume: what each current period used so far (from the usage table)."""
        from engine.brains.base import Usage

        for limit in self.all():
            agent_clause = "" if limit.scope == "team" else " AND agent=?"
            params: tuple = (self.engine.run_id, limit.start) + (
                () if limit.scope == "team" else (limit.owner,))
            rows = await self.engine.store.query(
                "SELECT SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens),"
                " SUM(cache_write_tokens), SUM(cost) FROM usage WHERE run_id=? AND ts>=?"
                + agent_clause, params)
            inp, out, cr, cw, cost = rows[0] if rows else (0, 0, 0, 0, 0)
            limit.used.add(Usage(inp or 0, out or 0, cr or 0, cw or 0), cost or 0.0)
        await self._restore_raises()
        for limit in self.all():
            limit.new_warnings()  # the ones already behind us stay given

    async def _restore_raises(self) -> None:
        """Limits the person raised for a period that is still the current one."""
        import json

        rows = await self.engine.store.query(
            "SELECT payload, answer FROM interrupts WHERE run_id=? AND kind='budget'"
            " AND answer IS NOT NULL ORDER BY answered", (self.engine.run_id,))
        for row in rows:
            try:
                payload, answer = json.loads(row["payload"]), json.loads(row["answer"])
            except (TypeError, ValueError):
                continue
            if payload.get("scope") != "period" or not answer.get("approved"):
                continue
            limit = next((lim for lim in self.all() if lim.owner == payload.get("owner")
                          and lim.end == payload.get("resets_at")), None)
            if limit is not None:
                raise_limit(limit, answer)

    def start(self) -> None:
        for limit in self.all():
            self._tasks.append(asyncio.create_task(self._resets(limit),
                                                   name=f"budget-period-{limit.owner}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _resets(self, limit: PeriodLimit) -> None:
        from engine import events as ev
        from engine.budget import Totals

        while True:
            await self.clock.sleep_until(limit.end)
            used = limit.used.as_dict()
            limit.start, limit.end = limit.end, limit.times.next_after(limit.end)
            limit.used, limit.warned = Totals(), set()
            limit.tokens, limit.dollars = limit.spec.tokens, limit.spec.dollars
            await self.engine.emit(
                ev.BUDGET_RESET, limit.owner if limit.scope == "agent" else None,
                scope=limit.scope, owner=limit.owner, period=limit.spec.every,
                start=limit.start, end=limit.end, previous=used,
                text=f"{_who(limit)} {limit.spec.every} budget starts over")
            gate, limit.gate = limit.gate, None
            if gate is not None and gate.pending:
                await self.engine.interrupts.answer(gate.id, {
                    "withdrawn": True, "reset": True, "text": "the budget period started over"})
            limit.reset.set()
            limit.reset = asyncio.Event()

    # -- charging ------------------------------------------------------------------------
    async def charge(self, agent: AgentRuntime, usage: Usage, cost: float) -> None:
        """Add one response to the agent's and the team's period; warn; pause when spent."""
        mine = self.limits.get(agent.agent_id)
        for limit in (mine, self.team):
            if limit is None:
                continue
            limit.used.add(usage, cost)
            await self._warn(agent, limit)
        for limit in (mine, self.team):
            if limit is not None:
                await self._hold(agent, limit)

    async def _warn(self, agent: AgentRuntime, limit: PeriodLimit) -> None:
        from engine import events as ev
        from engine.budget import fmt

        for dim, pct, used, lim in limit.new_warnings():
            await self.engine.emit(
                ev.BUDGET_WARNING, agent.agent_id if limit.scope == "agent" else None,
                scope=limit.scope, period=limit.spec.every, dimension=dim, percent=pct,
                used=used, limit=lim,
                text=f"{_who(limit)} has used {pct} % of its {limit.spec.every} budget "
                     f"({fmt(dim, used)} of {fmt(dim, lim)})")

    async def _hold(self, agent: AgentRuntime, limit: PeriodLimit) -> None:
        """While the period's budget is spent: wait for the reset or the person's answer."""
        from engine import events as ev
        from engine.budget import BudgetStopped

        while limit.exceeded():
            gate = limit.gate
            if gate is None or not gate.pending:  # one interrupt per limit (the team's is shared)
                gate = limit.gate = await self._raise(agent, limit)
            before, activity = agent.status, agent.activity
            until = self.times_text(limit)
            await agent.set_status(ev.PAUSED, f"paused: {_who(limit, agent.agent_id)} "
                                   f"{limit.spec.every} budget is spent until {until}")
            answer = await self._answer_or_reset(gate, limit)
            if answer.get("reset") or (answer.get("withdrawn") and not limit.exceeded()):
                await agent.set_status(before, activity)
                continue  # a new period: look again
            if not answer.get("approved"):
                raise BudgetStopped(f"stopped at its {limit.spec.every} budget: "
                                    f"{answer.get('text') or 'you rejected going on'}")
            await agent.set_status(before, activity)
            if raise_limit(limit, answer):
                limit.warned = set()
                limit.new_warnings()
                continue
            return  # approved without numbers: on once (its next response asks again)

    async def _answer_or_reset(self, gate: Interrupt, limit: PeriodLimit) -> dict[str, Any]:
        reset = limit.reset
        waiter = asyncio.ensure_future(self.engine.interrupts.wait(gate))
        resetter = asyncio.ensure_future(reset.wait())
        try:
            done, _ = await asyncio.wait({waiter, resetter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            resetter.cancel()
            if not waiter.done():
                waiter.cancel()
        if waiter in done:
            return waiter.result()
        return {"reset": True}

    async def _raise(self, agent: AgentRuntime, limit: PeriodLimit) -> Interrupt:
        from engine import interrupts as ik
        from engine.budget import fmt

        spent = ", ".join(f"{fmt(d, limit.used.used(d))} of {fmt(d, lim)}"
                          for d, lim in limit.limits().items())
        prompt = (f"{_who(limit)} {limit.spec.every} budget is spent ({spent}); it starts over at "
                  f"{self.times_text(limit)}. Wait for it, approve to let "
                  f"{agent.agent_id if limit.scope == 'agent' else 'the agents'} go on once "
                  "(or give limit_tokens / limit_dollars to raise this period's limit), or "
                  "reject to stop.")
        return await self.engine.interrupts.raise_(
            agent.agent_id, ik.BUDGET, prompt, scope="period", period=limit.spec.every,
            owner=limit.owner, resets_at=limit.end, used_tokens=limit.used.tokens,
            used_dollars=round(limit.used.cost, 6), limit_tokens=limit.tokens,
            limit_dollars=limit.dollars)

    def times_text(self, limit: PeriodLimit) -> str:
        from engine.schedules.spec import when_text

        return when_text(limit.end, limit.times.zone_name, self.clock())


def raise_limit(limit: PeriodLimit, answer: dict[str, Any]) -> bool:
    """The person's approval with ``limit_tokens``/``limit_dollars`` raises this period's
    limit (kept until its reset, also across a restart); False when it names none."""
    if "limit_tokens" not in answer and "limit_dollars" not in answer:
        return False
    if limit.tokens is not None and answer.get("limit_tokens") is not None:
        limit.tokens = int(answer["limit_tokens"])
    if limit.dollars is not None and answer.get("limit_dollars") is not None:
        limit.dollars = float(answer["limit_dollars"])
    return True


def _period_start(times: CronTimes, now: float) -> float:
    """The newest reset at or before ``now`` (the current period's start): looked for
    in the last hour, then day, then week (plus two hours for a DST change)."""
    for span in (3600, 86400, 7 * 86400):
        resets = times.between(now - span - 7200, now)
        if resets:
            return resets[-1]
    return now


def _who(limit: PeriodLimit, agent: str | None = None) -> str:
    if limit.scope == "team":
        return "the team's"
    return f"{limit.owner}'s" if agent is None or agent != limit.owner else "its"
