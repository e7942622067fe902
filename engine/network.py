"""The run's network gate: its egress proxy, one door per agent, held requests as
`network` interrupts, connections as events, secrets added outside the sandbox.

An agent with `network: {allow, deny}` keeps a container without a network; the gate
opens a Unix socket for it in an engine-owned directory (outside every workspace),
which the Docker backend binds into the container and the relay serves on
127.0.0.1:3128 (HTTP_PROXY).  A request to a host its rules do not list is held and
raised as a `network` interrupt: allow once, for this run, always (recorded beside
the database, see engine/network_allowed.py), or deny; `--auto-approve` never answers
it; an unanswered one is denied after `hold_timeout`.  Requests for the same host
while one waits share its interrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine import events as ev
from engine.config import AgentConfig, NetworkRules
from engine.interrupts import NETWORK, NETWORK_CHOICES, InterruptError
from engine.network_allowed import add_allowed, load_allowed
from engine.network_meter import MeterGate
from sandboxes.base import SandboxError, SandboxSpec
from sandboxes.network.policy import Policy, host_port, parse_pattern
from sandboxes.network.proxy import ConnectionRecord, Door, EgressProxy, Request, Secret
from sandboxes.relay import PROXY_PORT, PROXY_SOCKET, proxy_env, relay_uid

if TYPE_CHECKING:
    from engine.run import Engine

#: the run's socket directories in the temporary folder: agentorch-net-PID-RANDOM
DIR_PREFIX = "agentorch-net-"
#: distinct hosts one agent may have waiting for the person at once; more are denied
MAX_HELD_PER_AGENT = 8


def remove_stale_dirs() -> None:
    """Socket directories of engines that died (kill -9): their sockets lead nowhere."""
    for path in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*-*"):
        pid = path.name[len(DIR_PREFIX):].split("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


class NetworkGate:
    def __init__(self, engine: Engine, rules: dict[str, NetworkRules]) -> None:
        self.engine = engine
        self.rules = rules
        self.dir: Path | None = None
        self.proxy: EgressProxy | None = None
        self._held: dict[tuple[str, str, int], asyncio.Future[bool]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    @classmethod
    def of(cls, engine: Engine) -> NetworkGate | None:
        team = engine.team
        rules = {a.id: r for a in team.agents if isinstance(r := team.network_of(a), NetworkRules)}
        return cls(engine, rules) if rules else None

    def proxied(self, agent_id: str) -> bool:
        return agent_id in self.rules and self.engine.backends.get(agent_id) == "docker"

    def apply(self, spec: SandboxSpec) -> SandboxSpec:
        """The agent's sandbox spec with its door bound in and the proxy in its environment.

        Other services' relays in ``spec.relays`` stay; when another service already set
        ``spec.service_dir``, the door (a listening socket) moves into that folder."""
        if not self.proxied(spec.agent_id) or self.dir is None or self.proxy is None:
            return spec
        folder = spec.service_dir or self.dir / spec.agent_id
        door = self.proxy.doors[spec.agent_id]
        if Path(door.path).parent != folder:
            os.replace(door.path, folder / PROXY_SOCKET)
            door.path = str(folder / PROXY_SOCKET)
        return replace(spec, network="none", service_dir=folder,
                       relays=(*spec.relays, (PROXY_PORT, PROXY_SOCKET)),
                       env={**spec.env, **proxy_env()})

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Open a door per proxied agent; say which agents' rules nothing enforces."""
        engine = self.engine
        local = [a for a in self.rules if engine.backends.get(a) == "local"]
        if local:
            await engine.emit(ev.NOTICE, level="warning", text=(
                f"network rules of {', '.join(local)} are NOT enforced: the LOCAL backend "
                "cannot filter a process's network (it has the host's)."))
        if not any(self.proxied(a) for a in self.rules):
            return
        remove_stale_dirs()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-"))
        self.dir.chmod(0o711)
        self.proxy = EgressProxy(self._ask, self._report)
        allowed = load_allowed(engine.store.path, engine.team.name)
        for agent_id in (a for a in self.rules if self.proxied(a)):
            agent = engine.team.agent(agent_id)
            rules = self.rules[agent_id]
            policy = Policy.of([*rules.allow, *allowed.get(agent_id, [])], rules.deny)
            folder = self.dir / agent_id
            folder.mkdir(mode=0o755)
            folder.chmod(0o755)
            await self.proxy.open_door(Door(
                agent_id, str(folder / PROXY_SOCKET), policy, ask_unlisted=rules.ask,
                secrets=self._secrets(agent), uids=frozenset({relay_uid(uid) for uid in (0, 65534)}),
                meter=MeterGate(engine, agent_id).meter, peer_check=self._in_container(agent_id)))
        await self._restore()

    def _in_container(self, agent_id: str) -> Callable[[int, int], bool]:
        """A door's peer must run in its agent's container (its cgroup names the container),
        not merely as the relay's uid: a host process of that uid is refused."""
        def check(pid: int, uid: int) -> bool:
            rt = self.engine.agents.get(agent_id)
            container = getattr(rt.sandbox, "container_id", None) if rt is not None else None
            if not container:
                return False
            if pid <= 0:  # the engine runs in another pid namespace: the uid is all we know
                return True
            try:
                return container in Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8")
            except OSError:
                return False
        return check

    async def stop(self) -> None:
        """Close every door (idempotent); connections cut now are not recorded any more."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if self.proxy is not None:
            await self.proxy.close()
            self.proxy = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _secrets(self, agent: AgentConfig) -> list[Secret]:
        out = []
        for s in agent.secrets or []:
            value = self._secret_value(agent.id, s.env, s.file)
            self.engine.redactor.add(f"${s.env}" if s.env else f"secret file of {agent.id}", value)
            out.append(Secret(parse_pattern(s.host), s.header, s.prefix + value,
                              s.upstream.rstrip("/") if s.upstream else None, s.meter))
        return out

    def _secret_value(self, agent_id: str, env: str | None, file: str | None) -> str:
        if env is not None:
            value = os.environ.get(env, "")
            if not value:
                raise SandboxError(f"the secret of agent {agent_id} comes from ${env}, which is "
                                   "not set; set it in the engine's environment")
            return value
        path = self.engine.team.resolve(file)
        try:
            value = (path.read_text(encoding="utf-8").splitlines() or [""])[0].strip() if path else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise SandboxError(f"cannot read the secret file {path} of agent {agent_id} "
                               f"({getattr(exc, 'strerror', None) or exc})") from None
        if not value:
            raise SandboxError(f"the secret file {path} of agent {agent_id} is empty")
        return value

    async def _restore(self) -> None:
        """Resume: what the person allowed for this run holds again; requests held when the
        engine died are gone (their connections closed with it)."""
        if not self.engine.resuming or self.proxy is None:
            return
        rows = await self.engine.store.query(
            "SELECT agent, payload, answer FROM interrupts WHERE run_id=? AND kind=? "
            "AND answer IS NOT NULL", (self.engine.run_id, NETWORK))
        for row in rows:
            payload, answer = json.loads(row["payload"]), json.loads(row["answer"])
            door = self.proxy.doors.get(row["agent"])
            if door is not None and answer.get("choice") in ("run", "always"):
                door.policy.add(payload["host"], payload["port"])
        for intr in self.engine.interrupts.pending():
            if intr.kind == NETWORK:
                with contextlib.suppress(InterruptError):
                    await self.engine.interrupts.answer(intr.id, {
                        "withdrawn": True, "text": "the held request ended when the run stopped; "
                                                   "the agent's next request asks again"})

    # -- held requests -----------------------------------------------------------------
    async def _ask(self, request: Request) -> bool:
        key = (request.agent, request.host, request.port)
        held = self._held.get(key)
        if held is None:
            if sum(1 for k in self._held if k[0] == request.agent) >= MAX_HELD_PER_AGENT:
                return False
            held = self._held[key] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._decide(request, held), name=f"network-{request.agent}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(held)

    async def _decide(self, request: Request, held: asyncio.Future[bool]) -> None:
        allowed = False
        key = (request.agent, request.host, request.port)
        try:
            allowed = await self._interrupt(request)
        finally:
            self._held.pop(key, None)
            if not held.done():
                held.set_result(allowed)

    async def _interrupt(self, request: Request) -> bool:
        engine = self.engine
        where = host_port(request.host, request.port)
        timeout = self.rules[request.agent].hold_timeout
        prompt = f"{request.agent} wants to reach {where} ({request.method})"
        intr = await engine.interrupts.raise_(
            request.agent, NETWORK, prompt, blocking=True, host=request.host, port=request.port,
            method=request.method, program=request.program, choices=list(NETWORK_CHOICES),
            timeout=timeout)
        try:
            answer = await asyncio.wait_for(engine.interrupts.wait(intr), timeout)
        except TimeoutError:
            try:
                await engine.interrupts.answer(intr.id, {
                    "choice": "deny", "by": "timeout", "text": f"no answer in {timeout:g} s"})
            except InterruptError:
                pass
            answer = intr.answer or {"choice": "deny"}
        choice = answer.get("choice")
        door = self.proxy.doors.get(request.agent) if self.proxy else None
        if choice in ("run", "always") and door is not None:
            door.policy.add(request.host, request.port)
        if choice == "always":
            add_allowed(engine.store.path, engine.team.name, request.agent, where)
        return choice in ("once", "run", "always")

    async def _report(self, record: ConnectionRecord) -> None:
        if self._closing or self.engine.finished.is_set():
            return
        with contextlib.suppress(Exception):  # a stopped run records nothing more
            await self.engine.emit(
                ev.CONNECTION, record.agent, host=record.host, port=record.port,
                method=record.method, allowed=record.allowed, reason=record.reason or None,
                address=record.address, up=record.up, down=record.down, program=record.program)
