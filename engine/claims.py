"""Work claims: an agent declares what it works on, so two agents never do the same work.

`claim{key, ttl}` takes the key for ``ttl`` seconds (renews it when the agent already
holds it); while another agent holds it, the claim is refused with who holds it and for
how long.  A claim expires on its own once its time is up.  Every claim, renewal and
refusal is a `claim` event, and a resumed run rebuilds the held claims from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.control_chars import visible_controls

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.run import Engine

DEFAULT_TTL = 900.0
MAX_KEY = 200
TAKEN, RENEWED, REFUSED = "taken", "renewed", "refused"


@dataclass
class Claim:
    key: str
    holder: str
    until: float


class Claims:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.held: dict[str, Claim] = {}
        self._loaded = False

    async def _load(self) -> None:
        """The claims recorded so far in this run (a resumed run keeps them)."""
        if self._loaded:
            return
        self._loaded = True
        rows = await self.engine.store.query(
            "SELECT agent, data FROM events WHERE run_id=? AND type=? ORDER BY seq",
            (self.engine.run_id, ev.CLAIM))
        for agent, raw in rows:
            data = json.loads(raw)
            if data.get("action") in (TAKEN, RENEWED) and agent:
                self.held[data["key"]] = Claim(data["key"], agent, float(data["until"]))

    def holder(self, key: str, now: float) -> Claim | None:
        claim = self.held.get(key)
        return claim if claim is not None and claim.until > now else None

    async def claim(self, agent: str, key: str, ttl: float) -> dict[str, Any]:
        await self._load()
        now = self.engine.now()
        current = self.holder(key, now)  # no await from here to the change: one at a time
        if current is not None and current.holder != agent:
            left = current.until - now
            text = (f"{key!r} is claimed by {current.holder} for {_seconds(left)} more; "
                    "pick other work, or claim it again after that")
            await self.engine.emit(ev.CLAIM, agent, action=REFUSED, key=key,
                                   holder=current.holder, until=current.until)
            return {"claimed": False, "key": key, "holder": current.holder,
                    "expires_in": round(left, 1), "refused": text}
        action = RENEWED if current is not None else TAKEN
        self.held[key] = Claim(key, agent, now + ttl)
        await self.engine.emit(ev.CLAIM, agent, action=action, key=key, holder=agent,
                               until=now + ttl, ttl=ttl)
        return {"claimed": True, "key": key, "holder": agent, "expires_in": ttl,
                "renewed": action == RENEWED}


def _seconds(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60}m {s % 60}s" if s >= 60 else f"{s}s"


def of(engine: Engine) -> Claims:
    found = getattr(engine, "claims", None)
    if found is None:
        found = engine.claims = Claims(engine)
    return found


# -- the tool ------------------------------------------------------------------------------
async def claim(agent: AgentRuntime, key: str, ttl: float | None = None) -> dict:
    from engine.toolbox import ToolError

    if not key.strip():
        raise ToolError("the claim key is empty; name the work, e.g. `issue-42` or `src/api.py`")
    if len(key) > MAX_KEY:
        raise ToolError(f"the claim key is {len(key)} characters; the limit is {MAX_KEY}")
    return await of(agent.engine).claim(agent.agent_id, visible_controls(key), ttl or DEFAULT_TTL)


TOOL_HANDLERS = {"claim": claim}
