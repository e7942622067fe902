"""`agentorch-tui attach [RUN_ID|last]`: the control center on an engine in another process.

The same app, panels, keys and dialogs as the embedded one; only its run is a
`RemoteRun` (tui/remote.py) on the engine's control socket.  The run's events so far
are folded at once (as a resumed run's history), then followed live.  Ctrl+D (or the
palette) detaches and leaves the run going; `q` stops the run as it does anywhere.
Several control centers may be attached at once: each sees the others' answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine import events as ev
from engine.control_chars import visible_controls
from engine.service.client import ClientError
from tui.app import ControlCenter
from tui.remote import RemoteRun
from tui.screens.agent_detail import AgentDetail, AgentDetailScreen


async def _no_engine():  # pragma: no cover - an attached center opens a RemoteRun
    raise RuntimeError("an attached control center has no engine of its own")


class AttachedCenter(ControlCenter):
    BINDINGS = [Binding("ctrl+d", "detach", "Detach", show=False, priority=True)]

    def __init__(self, socket: str | Path, **kwargs: Any) -> None:
        super().__init__(_no_engine, **kwargs)
        self.socket = socket
        self.remote: RemoteRun | None = None
        self.detached = False

    async def open_run(self) -> None:
        try:
            remote = await RemoteRun.connect(self.socket)
        except ClientError as exc:
            self.start_error = str(exc)
            self.started.set()
            self.push_screen(self.start_failed_screen(self.start_error))
            return
        self.remote = remote
        self.engine = remote  # type: ignore[assignment] - the same control surface
        team = remote.team
        self.attach(remote.bus, team.name, remote.run_id,
                    [(a.id, a.type or "") for a in team.agents])
        assert self.state is not None and self.bridge is not None
        try:
            history = await remote.load_history()
        except ClientError as exc:
            history = []
            self.notify(str(exc), severity="error")
        self.bridge.fold_history(history)
        for agent_id, agent in remote.agents.items():
            view = self.state.agents.get(agent_id)
            if view is not None and agent.sandbox.label:
                view.sandbox = agent.sandbox.label
        self.selected_agent = next(iter(self.state.agents), None)
        remote.follow(self._live_event)
        self.started.set()

    def _live_event(self, event: ev.Event) -> None:
        if event.type == ev.INTERRUPT and event.data.get("blocking"):
            self.bell()  # an agent waits for the person: ring, as the embedded one does

    # -- what only the engine's own process can do ----------------------------------------
    def action_shell(self, agent: str | None = None) -> None:
        self.notify("A shell opens only in the control center that runs the engine (the "
                    "sandboxes are its processes).", severity="warning")

    def action_detail(self, agent: str | None = None) -> None:
        target = agent or self._target()
        if target is None or self.remote is None or self.state is None:
            return
        self.run_worker(self._detail(target))

    async def _detail(self, target: str) -> None:
        assert self.remote is not None and self.state is not None
        try:
            memory = await self.remote.memory_of(target)
        except ClientError:
            memory = ""  # the run ended meanwhile: the details without its memory
        config = self.remote.team.agent(target)
        self.push_screen(AgentDetailScreen(AgentDetail(self.state.agents[target], config,
                                                       memory)))

    # -- detaching --------------------------------------------------------------------------
    async def action_detach(self) -> None:
        """Leave the control center; the run goes on (attach again any time)."""
        if self._quitting:
            return
        self._quitting = self.detached = True
        if self.remote is not None:
            await self.remote.detach()
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Detach (the run goes on)", "ctrl+d: attach again any time",
                            lambda: self.run_worker(self.action_detach()))
        yield from super().get_system_commands(screen)

    async def shutdown_engine(self) -> None:
        # only a quit the person chose (q, asked while agents run) stops the shared run: a
        # client that ends any other way (a crash, its terminal closed) only detaches
        if (self.detached or not self._quitting or self.remote is None
                or self.remote.finished.is_set()):
            if self.remote is not None:
                await self.remote.detach()
        else:
            try:
                await self.remote.stop()
            except ClientError:
                pass  # the run ended meanwhile
        await super().shutdown_engine()

    def exit_code(self) -> int:
        return 0 if self.detached else super().exit_code()


def make_attached_app(socket: str | Path, **kwargs: Any) -> AttachedCenter:
    return AttachedCenter(socket, **kwargs)


def run_attach(run: dict[str, Any], socket: Path) -> int:
    """`agentorch-tui attach`: the control center on ``run``'s engine until detach or quit."""
    app = make_attached_app(socket)
    asyncio.run(_run(app))
    if app.start_error:
        print(f"agentorch: {visible_controls(app.start_error)}")
        return 1
    if app.detached:
        print(f"detached from run {run['id']}; it goes on. Attach again with "
              f"`agentorch-tui attach {run['id']}`")
    return app.exit_code()


async def _run(app: AttachedCenter) -> None:
    try:
        await app.run_async()
    finally:
        await app.shutdown_engine()
