"""Usage accounting (tokens, dollars) per agent and team."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine import events as ev
from engine.brains.base import Usage

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.run import Engine


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
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        self.cost += cost


class BudgetKeeper:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.per_agent: dict[str, Totals] = {a: Totals() for a in engine.team.agent_ids}
        self.team = Totals()

    def cost_of(self, usage: Usage) -> float:
        return 0.0

    async def charge(self, agent: AgentRuntime, usage: Usage) -> None:
        cost = self.cost_of(usage)
        self.per_agent[agent.agent_id].add(usage, cost)
        self.team.add(usage, cost)
        self.engine.store.execute(
            "INSERT INTO usage VALUES (?,?,?,?,?,?,?,?,?)",
            (self.engine.run_id, agent.agent_id, time.time(), usage.model, usage.input_tokens,
             usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens, cost))
        t = self.per_agent[agent.agent_id]
        await agent.emit(ev.USAGE, model=usage.model, input_tokens=usage.input_tokens,
                         output_tokens=usage.output_tokens,
                         cache_read_tokens=usage.cache_read_tokens,
                         cache_write_tokens=usage.cache_write_tokens, cost=cost,
                         agent_tokens=t.tokens, agent_cost=t.cost,
                         team_tokens=self.team.tokens, team_cost=self.team.cost)
