"""The team's shared context: one document every agent sees, versioned in the event log.

Agents change it with `update_shared_context` and read it with `get_shared_context`; the
person (or a control client) with the `shared_context` command.  Every change is a
`shared_context` event carrying the whole text and its version, so a resumed run (and a
replay, an export) has every version; the newest is loaded from the log on first use.
A Claude agent finds it in its system prompt and each new version in its next turn; other
agents read it through their tools, their MCP view, or the read-only file that the agent
view writes into each agent's directory (``on_change`` listeners).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.messaging import utf8_size
from engine.recording import ControlError
from engine.service.commands import Command, command

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.run import Engine

#: the largest shared context, in bytes of UTF-8 (it is in every Claude agent's prompt)
MAX_BYTES = 32 * 1024


class SharedContextError(ControlError):
    """An update that cannot be made (too large); one sentence for the caller."""


@dataclass(frozen=True, slots=True)
class Version:
    version: int = 0
    text: str = ""
    by: str = ""
    ts: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "text": self.text, "by": self.by}


Listener = Callable[[Version], Awaitable[None]]


class SharedContext:
    """The run's shared context document (one per engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.current = Version()
        self.listeners: list[Listener] = []
        self._loaded = False
        self._lock = asyncio.Lock()

    async def load(self) -> Version:
        """The newest version; read from the event log once (a resumed run has one)."""
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    self.current = await self._newest_recorded()
                    self._loaded = True
        return self.current

    async def _newest_recorded(self) -> Version:
        engine = self.engine
        rows = await engine.store.query(
            "SELECT ts, data FROM events WHERE run_id=? AND type=? ORDER BY seq DESC LIMIT 1",
            (engine.run_id, ev.SHARED_CONTEXT))
        if not rows:
            return Version()
        data = json.loads(rows[0][1])
        return Version(int(data.get("version") or 0), str(data.get("text") or ""),
                       str(data.get("by") or ""), float(rows[0][0]))

    async def update(self, text: str, by: str) -> Version:
        """Replace the document; ``by`` is who did it (an agent id, `user`, an MCP client)."""
        if not isinstance(text, str):
            raise SharedContextError("the shared context must be a text")
        size = utf8_size(text)
        if size > MAX_BYTES:
            raise SharedContextError(
                f"the shared context would be {size:,} bytes; the limit is {MAX_BYTES:,}: keep "
                "it to what every agent must know and put the rest in a file")
        await self.load()
        async with self._lock:
            engine = self.engine
            new = Version(self.current.version + 1, text, by, engine.now())
            agent = by if by in engine.agents else None
            await engine.emit(ev.SHARED_CONTEXT, agent, version=new.version, text=text, by=by)
            self.current = new
        await engine.emit(ev.NOTICE, agent, level="info",
                          text=f"{by} updated the team's shared context (version {new.version})")
        for listener in list(self.listeners):
            await listener(new)
        return new


def of(engine: Engine) -> SharedContext:
    """The engine's shared context, created on first use."""
    found = getattr(engine, "shared_context", None)
    if found is None:
        found = engine.shared_context = SharedContext(engine)
    return found


# -- tools ---------------------------------------------------------------------------------
async def update_shared_context(agent: AgentRuntime, text: str) -> dict:
    from engine.toolbox import ToolError

    try:
        new = await of(agent.engine).update(text, agent.agent_id)
    except SharedContextError as exc:
        raise ToolError(str(exc)) from None
    agent.shared_context_seen = new.version  # its own change: no echo
    return {"version": new.version}


async def get_shared_context(agent: AgentRuntime) -> dict:
    current = await of(agent.engine).load()
    agent.shared_context_seen = current.version
    return current.as_dict()


TOOL_HANDLERS = {
    "update_shared_context": update_shared_context,
    "get_shared_context": get_shared_context,
}


# -- what a Claude agent reads ------------------------------------------------------------
def prompt_section(current: Version) -> str:
    """The system prompt's part for the shared context ("" while there is none)."""
    if not current.text.strip():
        return ""
    return (f"## The team's shared context (version {current.version}, by {current.by})\n"
            f"{current.text.strip()}")


def changed_since_seen(agent: Any) -> str:
    """A turn's note when the shared context changed since ``agent`` last saw it, else "".

    ``agent`` is the brain's context (an AgentRuntime); it remembers the version seen."""
    engine = getattr(agent, "engine", None)
    shared = getattr(engine, "shared_context", None)
    if shared is None:
        return ""
    current = shared.current
    if current.version <= getattr(agent, "shared_context_seen", 0):
        return ""
    agent.shared_context_seen = current.version
    return (f"[the team's shared context changed: version {current.version}, by {current.by}; "
            f"it now reads]\n{current.text}")


async def prompt_for(agent: Any) -> str:
    """The shared context part of ``agent``'s system prompt; it counts as seen."""
    engine = getattr(agent, "engine", None)
    if engine is None:
        return ""
    current = await of(engine).load()
    agent.shared_context_seen = current.version
    return prompt_section(current)


# -- control command -----------------------------------------------------------------------
@command("shared_context")
async def _shared_context(engine: Engine, cmd: Command) -> dict[str, Any]:
    """`{"type":"shared_context","text":...}` replaces it; without `text` it is read."""
    text = cmd.get("text")
    if text is None:
        return (await of(engine).load()).as_dict()
    if not isinstance(text, str):
        raise ControlError("command 'shared_context' needs `text` as a string")
    by = f"user via {cmd.via}" if cmd.via else "user"  # the transport says who, never the command
    return (await of(engine).update(text, by)).as_dict()
