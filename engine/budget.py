"""Usage accounting (tokens, dollars) per agent and team, and the budgets on them.

Every model response is charged here (``AgentRuntime.record_usage``): a `usage` row and
event, then the budgets are checked.  Crossing 50, 75 and 90 % of a limit emits one
`budget_warning` each.  At 100 % the charging agent pauses on a blocking `budget`
interrupt: approve raises the limit (to ``limit_tokens`` / ``limit_dollars`` from the
answer, or double the old limit), reject stops the agent.  A team budget has one shared
interrupt: every agent that charges while the team is over its limit waits on it.

The check runs right after each response, so an agent goes over a limit by at most
the one response that crossed it.

Usage comes from a model endpoint, which may be a proxy or a gateway: every token count
is checked (:func:`checked_count`) before it is added.  A count that is not a
non-negative integer under :data:`USAGE_CEILING` counts as the ceiling, so a hostile or
broken endpoint can only make an agent reach its budget sooner, never later.  The cost
is computed from the price of the model the agent is *configured* with; the model name
the response claims is recorded, and a different one is a notice.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine import interrupts as ik
from engine.brains.base import BrainError, Usage
from engine.budget_period import PeriodKeeper
from engine.pricing import PriceTable, canonical_model

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.interrupts import Interrupt
    from engine.run import Engine

WARN_AT = (50, 75, 90)
TOKENS, DOLLARS = "tokens", "dollars"
#: most tokens of one kind a single response can report (a 1M context plus its cache);
#: a count above it, negative or not an integer, counts as this many
USAGE_CEILING = 2_000_000


def checked_count(value: object) -> tuple[int, str | None]:
    """A token count from an endpoint: (the count to use, what is wrong with it or None)."""
    if value is None:
        return 0, None
    if isinstance(value, bool) or not isinstance(value, int):
        return USAGE_CEILING, f"is not an integer ({_shown(value)})"
    if value < 0:
        return USAGE_CEILING, f"is negative ({value})"
    if value > USAGE_CEILING:
        return USAGE_CEILING, f"is above {USAGE_CEILING:,} ({_shown(value)})"
    return value, None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: the most one report of a CLI may cost; a bad number counts as this much
REPORTED_COST_CEILING = 1000.0


def checked_cost(value: object) -> float:
    """A cost a CLI reported, in dollars: a finite non-negative number up to the ceiling."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= REPORTED_COST_CEILING:
        return REPORTED_COST_CEILING
    return float(value)


class BudgetStopped(BrainError):
    """The person chose to stop an agent at its (or the team's) budget."""


@dataclass
class Totals:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float = 0.0

    @property
    def tokens(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_read_tokens
                + self.cache_write_tokens)

    def add(self, usage: Usage, cost: float) -> None:
        """Add one response; counts are checked again, so no brain can lower a total."""
        self.input_tokens += checked_count(usage.input_tokens)[0]
        self.output_tokens += checked_count(usage.output_tokens)[0]
        self.cache_read_tokens += checked_count(usage.cache_read_tokens)[0]
        self.cache_write_tokens += checked_count(usage.cache_write_tokens)[0]
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
            raise ValueError(f"cost {cost!r} is not a finite number")
        self.cost += max(0.0, cost)

    def used(self, dimension: str) -> float:
        return self.tokens if dimension == TOKENS else self.cost

    def as_dict(self) -> dict[str, Any]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens,
                "cache_write_tokens": self.cache_write_tokens, "tokens": self.tokens,
                "cost": round(self.cost, 6)}


def fmt(dimension: str, value: float) -> str:
    return f"{int(value):,} tokens" if dimension == TOKENS else f"${value:,.2f}"


@dataclass
class Limit:
    """One budget: an agent's or the team's, in tokens and/or dollars."""

    scope: str  # "agent" | "team"
    owner: str  # agent id or team name
    tokens: int | None = None
    dollars: float | None = None
    warned: set[tuple[str, int]] = field(default_factory=set)

    def limits(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.tokens is not None:
            out[TOKENS] = self.tokens
        if self.dollars is not None:
            out[DOLLARS] = self.dollars
        return out

    def new_warnings(self, t: Totals) -> list[tuple[str, int, float, float]]:
        """(dimension, percent, used, limit) for thresholds crossed for the first time."""
        out = []
        for dim, limit in self.limits().items():
            used = t.used(dim)
            for pct in WARN_AT:
                if used >= limit * pct / 100 and (dim, pct) not in self.warned:
                    self.warned.add((dim, pct))
                    if used < limit:  # past 100 % the interrupt says it all
                        out.append((dim, pct, used, limit))
        return out

    def exceeded(self, t: Totals) -> list[str]:
        return [dim for dim, limit in self.limits().items() if t.used(dim) >= limit]

    def suggestion(self, t: Totals) -> dict[str, float]:
        """The new limits an approval without numbers gives: double, and above the use."""
        out: dict[str, float] = {}
        for dim, limit in self.limits().items():
            new = limit * 2
            while new <= t.used(dim):
                new *= 2
            out[dim] = int(new) if dim == TOKENS else round(new, 2)
        return out

    def raise_to(self, answer: dict[str, Any], suggested: dict[str, float]) -> None:
        tokens = answer.get("limit_tokens", suggested.get(TOKENS))
        dollars = answer.get("limit_dollars", suggested.get(DOLLARS))
        if tokens is not None and self.tokens is not None:
            self.tokens = int(tokens)
        if dollars is not None and self.dollars is not None:
            self.dollars = float(dollars)
        # warnings restart for the new limit; the caller marks the ones already behind
        # us with a silent new_warnings()
        self.warned = set()

    def describe(self, t: Totals) -> str:
        return ", ".join(f"{fmt(d, t.used(d))} of {fmt(d, lim)}" for d, lim in self.limits().items())


class BudgetKeeper:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        team = engine.team
        self.prices = PriceTable(team.pricing)
        self.per_agent: dict[str, Totals] = {a: Totals() for a in team.agent_ids}
        self.team = Totals()
        self.agent_limits = {a.id: Limit("agent", a.id, a.budget.tokens, a.budget.dollars)
                             for a in team.agents if a.budget}
        self.team_limit = (Limit("team", team.name, team.budget.tokens, team.budget.dollars)
                           if team.budget else None)
        self._team_gate: Interrupt | None = None
        self._team_suggestion: dict[str, float] = {}
        self._mismatched: set[tuple[str, str]] = set()
        #: budgets per hour/day/week (engine/budget_period.py)
        self.periods = PeriodKeeper(self)

    def cost_of(self, agent_id: str, usage: Usage, reported: float | None = None) -> float:
        """The cost of ``usage`` at the price of the model ``agent_id`` is configured with.

        A CLI agent may use other models than its own (its CLI chooses; the agent can send
        requests itself): it is charged at the dearer of its configured model and the model
        the response names, so neither can lower the price; with neither priced, the cost
        its CLI ``reported`` (checked: a negative or absurd number counts as
        REPORTED_COST_CEILING)."""
        agent = self.engine.team.agent(agent_id)
        model = agent.model or ""
        price = self.prices.lookup(model)
        if agent.is_cli:
            answered = self.prices.lookup(usage.model) if usage.model else None
            costs = [p.cost(usage) for p in (price, answered) if p is not None]
            return max(costs) if costs else checked_cost(reported)
        if price is None:  # refused at load and at start (engine.pricing.price_problems)
            raise BrainError(f"no price for model {model!r}; add it under `pricing:`")
        return price.cost(usage)

    async def restore(self) -> None:
        """On resume: the totals so far, from the usage table (warnings already given stay given)."""
        rows = await self.engine.store.query(
            "SELECT agent, model, SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens),"
            " SUM(cache_write_tokens), SUM(cost) FROM usage WHERE run_id=? GROUP BY agent, model",
            (self.engine.run_id,))
        for agent, model, inp, out, cr, cw, cost in rows:
            usage = Usage(inp or 0, out or 0, cr or 0, cw or 0, model or "")
            self.per_agent.setdefault(agent, Totals()).add(usage, cost or 0.0)
            self.team.add(usage, cost or 0.0)
        for agent, limit in self.agent_limits.items():
            limit.new_warnings(self.per_agent[agent])
        if self.team_limit:
            self.team_limit.new_warnings(self.team)
        await self.periods.restore()

    async def charge(self, agent: AgentRuntime, usage: Usage, reported: float | None = None) -> None:
        """Account one response, then warn or pause on the budgets (may block)."""
        await self._note_mismatch(agent, usage.model)
        cost = self.cost_of(agent.agent_id, usage, reported)
        t = self.per_agent.setdefault(agent.agent_id, Totals())
        t.add(usage, cost)
        self.team.add(usage, cost)
        store = self.engine.store
        store.execute(
            "INSERT INTO usage VALUES (?,?,?,?,?,?,?,?,?)",
            (self.engine.run_id, agent.agent_id, self.engine.now(), usage.model, usage.input_tokens,
             usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens, cost))
        store.execute("UPDATE agents SET usage=? WHERE run_id=? AND id=?",
                      (json.dumps(t.as_dict()), self.engine.run_id, agent.agent_id))
        await agent.emit(ev.USAGE, model=usage.model, input_tokens=usage.input_tokens,
                         output_tokens=usage.output_tokens,
                         cache_read_tokens=usage.cache_read_tokens,
                         cache_write_tokens=usage.cache_write_tokens, cost=cost,
                         agent_tokens=t.tokens, agent_cost=t.cost,
                         team_tokens=self.team.tokens, team_cost=self.team.cost)
        await self._check_agent(agent)
        await self._check_team(agent)
        await self.periods.charge(agent, usage, cost)

    async def _note_mismatch(self, agent: AgentRuntime, model: str) -> None:
        """The endpoint answered as another model: say so once (the price stays ours)."""
        configured = agent.config.model or ""
        if not model or not configured or canonical_model(model) == canonical_model(configured):
            return
        if (agent.agent_id, model) in self._mismatched:
            return
        self._mismatched.add((agent.agent_id, model))
        priced = "the dearer of the two" if agent.config.is_cli else repr(configured)
        await agent.emit(ev.NOTICE, level="warning", text=(
            f"{agent.agent_id}: the API answered as model {model[:80]!r}, not the configured "
            f"{configured!r}; its usage is priced as {priced}"))

    # -- the agent's own budget ---------------------------------------------------------
    async def _check_agent(self, agent: AgentRuntime) -> None:
        limit = self.agent_limits.get(agent.agent_id)
        if limit is None:
            return
        t = self.per_agent[agent.agent_id]
        for dim, pct, used, lim in limit.new_warnings(t):
            await agent.emit(ev.BUDGET_WARNING, scope="agent", dimension=dim, percent=pct,
                             used=used, limit=lim,
                             text=f"{agent.agent_id} has used {pct} % of its budget "
                                  f"({fmt(dim, used)} of {fmt(dim, lim)})")
        while limit.exceeded(t):
            suggested = limit.suggestion(t)
            answer = await self._ask(agent, limit, t, suggested)
            if not answer.get("approved"):
                raise BudgetStopped(f"stopped at its budget ({limit.describe(t)}): "
                                    f"{_why(answer)}")
            limit.raise_to(answer, suggested)
            limit.new_warnings(t)

    # -- the team's budget ----------------------------------------------------------------
    async def _check_team(self, agent: AgentRuntime) -> None:
        limit = self.team_limit
        if limit is None:
            return
        for dim, pct, used, lim in limit.new_warnings(self.team):
            await self.engine.emit(ev.BUDGET_WARNING, None, scope="team", dimension=dim,
                                   percent=pct, used=used, limit=lim,
                                   text=f"the team has used {pct} % of its budget "
                                        f"({fmt(dim, used)} of {fmt(dim, lim)})")
        while limit.exceeded(self.team):
            gate = self._team_gate
            if gate is not None and not gate.pending and not (gate.answer or {}).get("approved"):
                raise BudgetStopped(f"stopped at the team budget ({limit.describe(self.team)}): "
                                    f"{_why(gate.answer or {})}")
            if gate is None or not gate.pending:
                self._team_suggestion = limit.suggestion(self.team)
                gate = self._team_gate = await self._raise(agent, limit, self.team,
                                                           self._team_suggestion)
            answer = await self._wait(agent, gate)
            if not answer.get("approved"):
                raise BudgetStopped(f"stopped at the team budget ({limit.describe(self.team)}): "
                                    f"{_why(answer)}")
            if limit.exceeded(self.team):  # the first waiter to wake applies the answer
                limit.raise_to(answer, self._team_suggestion)
                limit.new_warnings(self.team)

    # -- the interrupt ------------------------------------------------------------------
    async def _ask(self, agent: AgentRuntime, limit: Limit, t: Totals,
                   suggested: dict[str, float]) -> dict[str, Any]:
        return await self._wait(agent, await self._raise(agent, limit, t, suggested))

    async def _raise(self, agent: AgentRuntime, limit: Limit, t: Totals,
                     suggested: dict[str, float]) -> Interrupt:
        who = agent.agent_id if limit.scope == "agent" else "the team"
        new = " and ".join(fmt(d, v) for d, v in suggested.items())
        stop = agent.agent_id if limit.scope == "agent" else "the agents"
        prompt = (f"{who} reached its budget: "
                  f"{limit.describe(t)}. Approve to raise the limit to {new} (or give "
                  f"limit_tokens / limit_dollars), reject to stop {stop}.")
        return await self.engine.interrupts.raise_(
            agent.agent_id, ik.BUDGET, prompt, scope=limit.scope,
            used_tokens=t.tokens, used_dollars=round(t.cost, 6),
            limit_tokens=limit.tokens, limit_dollars=limit.dollars,
            suggested_tokens=suggested.get(TOKENS), suggested_dollars=suggested.get(DOLLARS))

    async def _wait(self, agent: AgentRuntime, intr: Interrupt) -> dict[str, Any]:
        before, activity = agent.status, agent.activity
        scope = "the team's" if intr.extra.get("scope") == "team" else "its"
        await agent.set_status(ev.PAUSED, f"paused: {scope} budget is spent; waiting for you")
        answer = await self.engine.interrupts.wait(intr)
        if answer.get("approved"):
            await agent.set_status(before, activity)
        return answer


def _why(answer: dict[str, Any]) -> str:
    if answer.get("withdrawn"):
        return answer.get("text") or "the question was withdrawn"
    text = answer.get("text")
    return f"you rejected raising it ({text})" if text else "you rejected raising it"
