"""The run behind an attached control center: an engine in another process.

The control center talks to its run through a narrow surface: `handle_command(raw)`
(any command of the registry) and the control calls the keys use (`answer`,
`approve`, `reject`, `acknowledge`, `send_user_message`, `pause`, `resume`, `cancel`,
`stop`), an event `bus` the bridge reads, `team`, `run_id`, `agents[id].sandbox.label`,
`workspaces` (where the git work is) and `finished`.  `Engine` is the embedded implementation;
`RemoteRun` is this one: every call is a command on the control socket
(engine/service/commands.py), and the socket's event stream is published on a local
bus, so the same bridge, state and panels show it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.bus import EventBus
from engine.config import TeamConfig
from engine.service.client import ClientError, ControlClient, stored_events
from sandboxes.workspaces.repo import EngineRepo


@dataclass
class RemoteSandbox:
    label: str


@dataclass
class RemoteWorkspaces:
    """Where the engine keeps the agents' git work (`repo:` teams): read by the diff screen
    from this process, as the embedded one reads it (same user, same machine)."""

    repo: EngineRepo
    branch: str


@dataclass
class RemoteAgent:
    """What the control center reads of an agent the engine runs elsewhere."""

    sandbox: RemoteSandbox
    memory_text: str = ""


class RemoteRun:
    def __init__(self, client: ControlClient, state: dict[str, Any], path: Any = None,
                 name: str = "attach") -> None:
        self.client = client
        self.path = path
        self.name = name
        self.caught_up = 0  # times it was dropped for falling behind and subscribed again
        self.run_id: str = state["run_id"]
        self.status: str = state.get("status", "running")
        self.team = TeamConfig.model_validate(state["team_config"])
        self.agents = {agent_id: RemoteAgent(RemoteSandbox(info.get("sandbox", "")))
                       for agent_id, info in state.get("agents", {}).items()}
        ws = state.get("workspaces")
        self.workspaces = (RemoteWorkspaces(EngineRepo(Path(ws["git_dir"])), ws["branch"])
                           if ws else None)
        self.bus = EventBus()
        self.finished = asyncio.Event()
        self.pending_resume = None
        self.history: list[ev.Event] = []
        self._pump: asyncio.Task | None = None
        self._detaching = False
        self.status_final = False  # the run's end was seen: nothing more will come

    @classmethod
    async def connect(cls, path: Any, name: str = "attach", **kwargs: Any) -> RemoteRun:
        client = await ControlClient.connect(path, name=name, **kwargs)
        try:
            state = await client.request({"type": "state"})
        except BaseException:
            await client.close()
            raise
        return cls(client, state, path, name)

    # -- the event stream ---------------------------------------------------------------
    async def load_history(self) -> list[ev.Event]:
        """Subscribe from the start: the events so far (to fold at once), then live ones
        are published on ``bus`` by `follow`."""
        last = await self.client.subscribe(from_seq=1)
        history: list[ev.Event] = []
        while not history or history[-1].seq < last:
            event = await self.client.next_event()
            if event is None:
                break
            history.append(event)
            history.extend(e for e in self.client.take_events() if e.seq <= last)
        self.history = history
        return history

    def follow(self, on_event: Any = None) -> None:
        self._pump = asyncio.create_task(self._follow(on_event), name="attach-events")

    async def _follow(self, on_event: Any) -> None:
        bus = self.bus
        last = self.history[-1].seq if self.history else 0
        try:
            while True:
                client = self.client
                event = await client.next_event()
                if event is None:
                    if self._detaching or self.status_final:
                        break
                    # dropped for falling behind, or cut off at the run's end: go on from
                    # where we are, from the socket while it lasts, else from the database
                    if await self._resubscribe(last + 1):
                        continue
                    try:
                        rest = await asyncio.to_thread(stored_events, client.hello.get("db", ""),
                                                       self.run_id, last)
                    except ClientError:
                        rest = []
                    for item in rest:  # the run ended meanwhile: the rest from its database
                        if on_event is not None:
                            on_event(item)
                        await bus.publish(item)
                    break
                for item in [event, *client.take_events()]:
                    if item.seq <= last:
                        continue  # already folded as history
                    last = item.seq
                    if item.type == ev.RUN_FINISHED:
                        self.status = str(item.data.get("status", "finished"))
                        self.status_final = True
                    if on_event is not None:
                        on_event(item)
                    await bus.publish(item)
        finally:
            self.finished.set()
            await bus.close()

    async def _resubscribe(self, from_seq: int) -> bool:
        """Dropped for falling behind (a flood): connect again and go on from ``from_seq``."""
        try:
            client = await ControlClient.connect(self.path, name=self.name)
            await client.subscribe(from_seq=from_seq)
        except ClientError:
            return False  # the run ended meanwhile
        old, self.client = self.client, client
        await old.close()
        self.caught_up += 1
        return True

    # -- control calls (ClientError, a ControlError, when refused) -----------------------
    async def handle_command(self, raw: dict[str, Any]) -> Any:
        """Any command of the registry, as `Engine.handle_command` runs it in process."""
        return await self.client.request(raw)

    _do = handle_command

    async def answer(self, interrupt_id: str, text: str) -> None:
        await self._do({"type": "answer", "interrupt": interrupt_id, "text": text})

    async def approve(self, interrupt_id: str, steps: list[str] | None = None,
                      text: str | None = None) -> None:
        raw: dict[str, Any] = {"type": "approve", "interrupt": interrupt_id}
        if steps is not None:
            raw["steps"] = steps
        if text:
            raw["text"] = text
        await self._do(raw)

    async def reject(self, interrupt_id: str, feedback: str = "") -> None:
        await self._do({"type": "reject", "interrupt": interrupt_id, "text": feedback})

    async def acknowledge(self, interrupt_id: str) -> None:
        await self._do({"type": "ack", "interrupt": interrupt_id})

    async def send_user_message(self, to: str, text: str) -> None:
        await self._do({"type": "message", "to": to, "text": text})

    async def pause(self, agent_id: str) -> None:
        await self._do({"type": "pause", "agent": agent_id})

    async def resume(self, agent_id: str) -> None:
        await self._do({"type": "resume", "agent": agent_id})

    async def cancel(self, agent_id: str) -> None:
        await self._do({"type": "cancel", "agent": agent_id})

    async def memory_of(self, agent_id: str) -> str:
        result = await self._do({"type": "memory", "agent": agent_id})
        return str(result.get("text", "")) if isinstance(result, dict) else ""

    async def stop(self, reason: str = "") -> None:
        """Stop the run (as `q` does in the embedded control center) and wait for its end."""
        if not self.finished.is_set():
            await self._do({"type": "stop"})
            await self.finished.wait()

    def failure_text(self) -> str:
        return ""

    def log_exception(self, agent: str | None, exc: BaseException) -> None:
        pass

    async def detach(self) -> None:
        """Leave the run going: close the connection, end the local stream."""
        self._detaching = True
        await self.client.close()
        if self._pump is not None:
            await asyncio.gather(self._pump, return_exceptions=True)
        elif not self.bus.closed:
            await self.bus.close()
