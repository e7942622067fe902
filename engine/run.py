"""The engine: one run of a team.  The TUI and headless mode both drive this API."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.agent import AgentRuntime
from engine.brains import make_brain
from engine.brains.base import BrainError, Peer
from engine.brains.claude_errors import api_key_problem
from engine.brains.cli_dirs import cli_binds, cli_relays
from engine.budget import BudgetKeeper
from engine.bus import EventBus
from engine.config import ALL, AgentConfig, TeamConfig
from engine.interrupts import InterruptError, InterruptQueue
from engine.messaging import USER, MessageError, PostOffice
from engine.network import NetworkGate
from engine.network_secrets import Redactor
from engine.notify import Notifier
from engine.pricing import price_problems
from engine.recording import ControlError, EventRecorder, RunAborted
from engine.remote_docker import remote_daemon, remote_notice, remote_problem
from engine.schedules.scheduler import Scheduler
from engine.toolchain import build_team_image, run_setup
from engine.workflow.agents import grant_tools, restore_created, team_file_json
from engine.workflow.flow import Workflow
from engine.workspaces import Workspaces
from memory.run_lock import RunLock
from memory.store import Store
from sandboxes import SandboxError, SandboxSpec, create_sandbox
from sandboxes.base import DEFAULT_IMAGE, DEFAULT_MAX_OUTPUT
from sandboxes.docker_client import daemon_is_remote
from sandboxes.workspace_disk import parse_size


class StartupConfigError(BrainError):
    """The team cannot start as configured (no API key, an unknown price, an unreadable
    rules or memory file): a configuration error, exit status 2."""


def _no_daemon_reason() -> str:
    """Why `auto` fell back to local, naming a DOCKER_HOST on another machine."""
    host = os.environ.get("DOCKER_HOST", "").strip()
    if daemon_is_remote("auto", host):
        return (f"no Docker daemon answered at {host} (DOCKER_HOST); check it, or unset "
                "DOCKER_HOST to use this machine's Docker.")
    return "no Docker daemon answered; start Docker for isolation."


def requested_auto(requested: dict[str, str]) -> bool:
    return all(backend == "auto" for backend in requested.values())


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    """A sortable, unique id: the start time plus 64 random bits."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    return f"{stamp}-{secrets.token_hex(8)}"


async def _image_problem(image: str, pull: bool) -> SandboxError | None:
    """None when Docker can run ``image``, else what is wrong and how to fix it."""
    from sandboxes.docker_client import check_docker  # docker-py only when needed

    try:
        await check_docker(image, pull=pull)
    except SandboxError as exc:
        return exc
    return None


class Engine(EventRecorder):
    def __init__(
        self,
        team: TeamConfig,
        store: Store,
        *,
        config_path: str | None = None,
        run_id: str | None = None,
        auto_approve: bool = False,
        clock: Callable[[], float] = time.time,
        backend: str | None = None,
        image: str | None = None,
        demo: bool = False,
    ) -> None:
        self.team = team
        self.store = store
        self.config_path = config_path
        self.clock = clock
        self.run_id = run_id or new_run_id(clock)
        self.auto_approve = auto_approve
        self.backend_override = backend
        self.image_override = image
        #: the built-in demo (fixed, harmless scripts) may run on LOCAL when its image is
        #: missing, saying why; any other team gets an error instead
        self.demo = demo
        self.bus = EventBus()
        # durable before visible: the bus gets each event once its transaction committed
        store.on_commit = self._publish_committed
        store.on_failure = self._store_failed
        self.seq = 0
        self.interrupts = InterruptQueue(self)
        self.notifier = Notifier(team.notify)  # the person, when an agent waits for them
        self.post = PostOffice(self)
        self.budget = BudgetKeeper(self)
        self.agents: dict[str, AgentRuntime] = {}
        self.roster = [Peer(a.id, a.type or "", a.description or "") for a in team.agents]
        self.backends: dict[str, str] = {}
        self.status = "pending"
        self.finished = asyncio.Event()
        #: set once the agents run (or the run ended without starting): control waits for it
        self.started = asyncio.Event()
        self._stopping = False
        self._abort_task: asyncio.Task | None = None
        #: the OS lock that makes this process the run's only writer (set by the CLI)
        self.run_lock: RunLock | None = None
        #: set by the CLI for --resume: the RunState (engine.resume) to continue from
        self.pending_resume: Any = None
        #: the agents' clones and checkpoints when the team sets `repo:`
        self.workspaces = Workspaces.of(self)
        #: the Docker daemon is on another machine: volumes, no bind mounts (engine/remote_docker.py)
        self.remote_docker = remote_daemon(self)
        self.built_image: str | None = None  # sandbox.build's image, once built
        #: the control socket (engine.service.control_socket.ControlServer), set by the CLI
        self.control: Any = None
        #: each agent's MCP socket (engine.service.agent_socket.AgentViews), set by the CLI
        self.agent_views: Any = None
        #: the egress proxy when an agent has `network: {allow, deny}` (engine/network.py)
        self.network = NetworkGate.of(self)
        self.redactor = Redactor.for_team(team)
        #: wakes the agents that have a `schedule:` (None when none has)
        self.scheduler = Scheduler.of(self)
        #: the team workflow (`workflow:`): plan, tasks, review, QA (engine/workflow/)
        self.workflow = Workflow.of(self)

    @property
    def resuming(self) -> bool:
        return self.pending_resume is not None

    def now(self) -> float:
        return self.clock()

    def log_exception(self, agent: str | None, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc))
        print(f"agentorch: internal error in {agent or 'engine'}:\n{text}", file=sys.stderr)

    # -- lifecycle ------------------------------------------------------------------
    def requested_backend(self, agent: AgentConfig) -> str:
        return self.backend_override or agent.backend or self.team.sandbox.backend

    def image_of(self, agent: AgentConfig) -> str:
        return (self.image_override or agent.image or self.built_image
                or self.team.sandbox.image or DEFAULT_IMAGE)

    async def _resolve_backends(self) -> tuple[dict[str, str], SandboxError | None]:
        """Pick each agent's backend: `auto` is docker whenever a Docker daemon answers.

        Returns, for each agent that `auto` put on local (no daemon), why; and what keeps
        a docker agent from starting (e.g. a missing image: an error, never local instead).
        """
        requested = {a.id: self.requested_backend(a) for a in self.team.agents}
        docker_ok = True
        if "auto" in requested.values():
            from sandboxes.docker_client import docker_answers

            docker_ok = await docker_answers()
        fell_back: dict[str, str] = {}
        pinned = self.pending_resume.backends if self.resuming else {}
        for agent in self.team.agents:
            backend = requested[agent.id]
            if backend == "auto" and pinned.get(agent.id) == "docker" and not docker_ok:
                return fell_back, SandboxError(
                    f"run {self.run_id} started {agent.id} in a Docker container and no Docker "
                    "daemon answers now; start Docker to resume it sandboxed, or pass "
                    "--backend local to resume it UNSANDBOXED")
            if backend == "auto":
                backend = "docker" if docker_ok else "local"
                if not docker_ok:
                    fell_back[agent.id] = _no_daemon_reason()
            self.backends[agent.id] = backend
        images = {self.image_of(a) for a in self.team.agents if self.backends[a.id] == "docker"}
        for image in sorted(images):
            problem = await _image_problem(image, self.team.sandbox.pull)
            if problem is not None and self.demo and requested_auto(requested):
                for agent_id, backend in self.backends.items():
                    if backend == "docker":
                        self.backends[agent_id] = "local"
                        fell_back[agent_id] = f"{problem}."
                return fell_back, None
            if problem is not None:
                return fell_back, problem
        return fell_back, None

    def sandbox_spec(self, agent: AgentConfig, backend: str) -> SandboxSpec:
        def pick(name: str, default: Any) -> Any:
            return self.team.resource_of(agent, name, default)

        network = self.team.network_of(agent)
        spec = SandboxSpec(
            backend=backend, workspace=self.team.workspace_of(agent, self.run_id), run_id=self.run_id,
            agent_id=agent.id, image=self.image_of(agent),
            network=network if isinstance(network, str) else "none",
            memory=pick("memory", "512m"), cpus=pick("cpus", 1.0), pids=pick("pids", 256),
            max_output_bytes=pick("max_output", DEFAULT_MAX_OUTPUT),
            disk=parse_size(pick("disk", None)) if pick("disk", None) else None,
            env={name: os.environ[name] for name in agent.pass_env or [] if name in os.environ},
            binds=cli_binds(agent, self.run_id, Path(str(self.store.path)).resolve().parent,
                            backend),
            relays=cli_relays(agent, self.team, backend),
        )
        if backend == "docker" and self.remote_docker:  # nothing of this host binds there
            seed = self.workspaces.seeds.get(agent.id) if self.workspaces is not None else None
            return replace(spec, remote=True, seed=seed)
        spec = self.network.apply(spec) if self.network is not None else spec
        return self.agent_views.apply(spec) if self.agent_views is not None else spec

    def _should_run(self, agent_id: str) -> bool:
        """False for an agent that had already ended in the run being resumed."""
        if self.pending_resume is None:
            return True
        past = self.pending_resume.agents.get(agent_id)
        return past is None or past.resumable

    async def start(self) -> None:
        """Create sandboxes and brains, then start every agent's task.

        With ``pending_resume`` set (a RunState from engine.resume), the run goes
        on where it stopped instead.  Raises SandboxError (or BrainError) with a
        clear message when the team cannot start; nothing is left running then.
        """
        try:
            await self._start()
        except (RunAborted, SandboxError, BrainError):
            raise
        except Exception as exc:  # a bug while starting: leave nothing running, record it
            self.log_exception(None, exc)
            await self._stop_agents()
            await self._fail_start(f"internal error while starting: {type(exc).__name__}: "
                                   f"{exc}")
            raise

    async def _start(self) -> None:
        if self.resuming:
            from engine.resume import apply_run_state

            restore_created(self)  # agents the workflow created, before their inboxes fill
            apply_run_state(self, self.pending_resume)
        self.status = "starting"
        agent_ids = self.team.agent_ids
        if not self.resuming:
            self.store.create_run(self.run_id, self.team.name, self.config_path, agent_ids,
                                  {"auto_approve": self.auto_approve,
                                   "events_version": ev.EVENTS_VERSION,
                                   "base_dir": str(self.team.base_dir),
                                   "backend": self.backend_override,
                                   "image": self.image_override,
                                   "team": self.team.model_dump(mode="json")})
            for a in agent_ids:
                self.store.execute("INSERT OR REPLACE INTO agents (run_id, id, status) "
                                   "VALUES (?,?,?)", (self.run_id, a, ev.PENDING))
        else:
            self.store.reopen_run(self.run_id)
            self.store.execute(  # the configuration this leg runs with (--reload-config)
                "UPDATE runs SET meta=json_set(COALESCE(meta, '{}'), '$.team', json(?)) "
                "WHERE id=?", (team_file_json(self), self.run_id))
        build_problem = await build_team_image(self)  # sandbox.build (engine/toolchain.py)
        fell_back, docker_problem = await self._resolve_backends()
        docker_problem = build_problem or docker_problem
        await self.emit(ev.RUN_STARTED, team=self.team.name, agents=agent_ids,
                        types={a.id: a.type or "" for a in self.team.agents},
                        models={a.id: a.model or "scripted" for a in self.team.agents},
                        backends=self.backends, config=self.config_path,
                        resumed=self.resuming, pid=os.getpid())
        if self.control is not None:  # other processes of this user may attach from now on
            await self.control.start()
        key_problem = api_key_problem(self.team) or "; ".join(
            msg for _, msg in price_problems(self.team))
        if key_problem:  # before any sandbox or agent starts
            await self._fail_start(key_problem)
            raise StartupConfigError(key_problem)
        if docker_problem is not None:
            await self._fail_start(str(docker_problem))
            raise docker_problem
        remote = remote_problem(self)  # what a daemon on another machine cannot do
        if remote is not None:
            await self._fail_start(remote)
            raise SandboxError(remote)
        if not self.resuming and (remote := remote_notice(self)):
            await self.emit(ev.NOTICE, level="info", text=remote)
        if self.resuming:
            await self.budget.restore()
        unsandboxed = [a for a, b in self.backends.items() if b == "local"]
        if unsandboxed:
            who = (", ".join(unsandboxed) if len(unsandboxed) <= 6 else
                   f"{', '.join(unsandboxed[:5])} and {len(unsandboxed) - 5} more agents")
            text = (f"LOCAL backend: {who} run UNSANDBOXED on this machine "
                    "(as your user, with your files and network).")
            if fell_back:
                text += f" `auto` fell back to local: {list(fell_back.values())[-1]}"
            await self.emit(ev.NOTICE, level="warning", text=text, unsandboxed=unsandboxed)
        if self.workspaces is not None:  # the agents' clones of `repo:`, before any sandbox
            try:
                await self.workspaces.prepare(self.backends)
            except SandboxError as exc:
                await self._finish("failed", str(exc))
                raise
        await self._open_network()
        sandboxes = {a.id: create_sandbox(self.sandbox_spec(a, self.backends[a.id]))
                     for a in self.team.agents}
        await self._prepare_agents(sandboxes)  # what can fail, before any container starts
        if self.resuming and self.scheduler is not None:
            await self.scheduler.restore()
        if self.agent_views is not None:  # the agents' MCP sockets answer from now on
            await self.agent_views.start()
        grant_tools(self)  # the workflow's tools to the roles that use them
        live = [s for a, s in sandboxes.items() if self._should_run(a)]
        results = await asyncio.gather(*(s.start() for s in live), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if self.store.failure is not None:  # the store failed meanwhile: nothing may run
            await asyncio.gather(*(s.stop() for s in live), return_exceptions=True)
            raise RunAborted(str(self.store.failure))
        if errors:
            await asyncio.gather(*(s.stop() for s in live), return_exceptions=True)
            first = errors[0]
            msg = str(first) if isinstance(first, SandboxError) else f"{type(first).__name__}: {first}"
            await self._fail_start(msg)
            raise SandboxError(msg)
        setup_problem = await run_setup(self, {a: s for a, s in sandboxes.items()
                                               if self._should_run(a)})
        if setup_problem is not None:  # `setup:` commands (engine/toolchain.py)
            await asyncio.gather(*(s.stop() for s in live), return_exceptions=True)
            await self._fail_start(str(setup_problem))
            raise setup_problem
        if self._stopping:  # stopped while the sandboxes started (e.g. stdout closed at
            # once): no agent may start now; a task made here would outlive the run and hang
            # asyncio.run's exit inside Python's half-made subprocess
            await asyncio.gather(*(s.stop() for s in live), return_exceptions=True)
            return
        if self.workflow is not None:  # the board (rebuilt on resume) before any agent acts
            await self.workflow.begin()
        self.status = "running"
        self.started.set()
        for rt in self.agents.values():
            if self._should_run(rt.agent_id):
                rt.task = asyncio.create_task(rt.run(), name=f"agent-{rt.agent_id}")
        self._watcher = asyncio.create_task(self._watch(), name="engine-watch")
        self.budget.periods.start()  # resets of budgets per period (engine/budget_period.py)
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.resuming:  # show again what still waits for the person
            for intr in self.interrupts.pending():
                await self.emit(ev.INTERRUPT, intr.agent, restored=True, **intr.payload())

    async def _open_network(self) -> None:
        """The egress proxy before any sandbox; unfiltered networks said on screen."""
        open_ = [a.id for a in self.team.agents if self.team.network_of(a) == "unrestricted"
                 and self.backends.get(a.id) == "docker"]
        if open_:
            await self.emit(ev.NOTICE, level="warning", unrestricted=open_, text=(
                f"UNRESTRICTED network: {', '.join(open_)} can reach any host, the local network "
                "and this machine's services, with nothing filtered or recorded."))
        if self.network is not None:
            try:
                await self.network.start()
            except SandboxError as exc:
                await self._fail_start(str(exc))
                raise

    async def _fail_start(self, reason: str) -> None:
        """The team could not start: every agent failed with ``reason`` (so the run is
        not resumable: starting it again is a new run), and the run failed."""
        for agent_id in self.team.agent_ids:
            if self._should_run(agent_id):
                self.store.execute("UPDATE agents SET status=? WHERE run_id=? AND id=?",
                                   (ev.FAILED, self.run_id, agent_id))
                await self.emit(ev.AGENT_STATUS, agent_id, status=ev.FAILED, activity=reason,
                                reason=reason)
        await self._finish("failed", reason)

    async def _prepare_agents(self, sandboxes: dict[str, Any]) -> None:
        """Brains and runtimes (rules and memory files read); a problem fails the run."""
        try:
            for agent in self.team.agents:
                past = self.pending_resume.agents.get(agent.id) if self.resuming else None
                brain = make_brain(agent, self.team, start_at=past.calls if past else 0)
                self.agents[agent.id] = AgentRuntime(self, agent, sandboxes[agent.id], brain)
        except (BrainError, OSError, ValueError) as exc:
            msg = str(exc) if isinstance(exc, BrainError) else (
                f"cannot prepare the agents: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}")
            await self._fail_start(msg)
            raise StartupConfigError(msg) from None
        if self.resuming:
            from engine.resume import close_stale_interrupts, prepare_agents

            prepare_agents(self, self.pending_resume)
            await close_stale_interrupts(self)

    async def _watch(self) -> None:
        while True:  # agents created at run time (the workflow) are waited for too
            tasks = [rt.task for rt in self.agents.values() if rt.task and not rt.task.done()]
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            elif self.workflow is not None and not self._stopping:
                await self.workflow.settle()  # QA under way, then how the workflow ends
                if not any(rt.task and not rt.task.done() for rt in self.agents.values()):
                    break
            else:
                break
        if self._stopping:
            return
        if self.scheduler is not None:  # every scheduled agent was cancelled
            await self.scheduler.stop()
        await self.budget.periods.stop()
        statuses = {rt.status for rt in self.agents.values()}
        status = ("failed" if ev.FAILED in statuses else
                  "cancelled" if ev.CANCELLED in statuses else "finished")
        await self._teardown()
        await self._finish(status, "every agent has ended")

    async def wait(self) -> str:
        await self.finished.wait()
        return self.status

    async def stop(self, reason: str = "stopped by you") -> None:
        """Stop the run cleanly: cancel agents, stop sandboxes, record the state."""
        if self.finished.is_set() or self._stopping:
            await self.finished.wait()
            return
        await self._stop_agents()
        await self._finish("stopped", reason)

    async def _abort(self) -> None:
        if self.finished.is_set() or self._stopping:
            return  # the stop under way ends the run; its _finish sees the failure
        await self._stop_agents()
        await self._finish("failed", "the state database could not be written")

    async def _stop_agents(self) -> None:
        self._stopping = True
        await self.budget.periods.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        for rt in self.agents.values():
            rt.stopping = True
        tasks = [rt.task for rt in self.agents.values() if rt.task and not rt.task.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._teardown()

    async def _teardown(self) -> None:
        if self.agent_views is not None:
            await self.agent_views.close()
        if self.workflow is not None:
            await self.workflow.close()
        if self.workspaces is not None:
            await self.workspaces.finish({a: rt.sandbox for a, rt in self.agents.items()
                                          if self._should_run(a)})
        await asyncio.gather(*(rt.sandbox.stop() for rt in self.agents.values()
                               if self._should_run(rt.agent_id)), return_exceptions=True)
        if self.network is not None:  # before run_finished: no event may follow it
            await self.network.stop()

    async def _finish(self, status: str, reason: str) -> None:
        if self.finished.is_set():
            return
        self.status = status
        summary = {a: rt.status for a, rt in self.agents.items()}
        try:
            if self.store.failure is None:
                await self.emit(ev.RUN_FINISHED, status=status, reason=reason, agents=summary)
                self.store.finish_run(self.run_id, status)
                await self.durable()
        except RunAborted:
            pass
        try:
            if self.store.failure is not None:
                await self._end_unrecorded(summary)
        finally:
            if self.run_lock is not None:
                self.run_lock.release()
            self.finished.set()
            self.started.set()
            if self.network is not None:
                await self.network.stop()
            await self.notifier.close()
            await self.bus.close()
            if self.control is not None:
                await self.control.close()
            if self.agent_views is not None:
                await self.agent_views.close()

    # -- control API (keys in the TUI, JSON lines in headless) -------------------------
    def _agent(self, agent_id: str) -> AgentRuntime:
        rt = self.agents.get(agent_id)
        if rt is None:
            raise ControlError(f"unknown agent {agent_id!r}; agents: {', '.join(self.agents)}")
        return rt

    async def answer(self, interrupt_id: str, text: str, *, via: str | None = None) -> None:
        await self._answer(interrupt_id, {"text": text, "by": USER}, via)

    async def approve(self, interrupt_id: str, steps: list[str] | None = None,
                      text: str | None = None, *, limit_tokens: int | None = None,
                      limit_dollars: float | None = None, via: str | None = None) -> None:
        """Approve a plan/command, or a budget interrupt (optionally with new limits)."""
        answer: dict[str, Any] = {"approved": True, "by": USER}
        if limit_tokens is not None:
            answer["limit_tokens"] = limit_tokens
        if limit_dollars is not None:
            answer["limit_dollars"] = limit_dollars
        if steps is not None:
            answer["steps"] = steps
        if text:
            answer["text"] = text
        await self._answer(interrupt_id, answer, via)

    async def reject(self, interrupt_id: str, feedback: str = "", *,
                     via: str | None = None) -> None:
        await self._answer(interrupt_id, {"approved": False, "text": feedback, "by": USER}, via)

    async def acknowledge(self, interrupt_id: str, *, via: str | None = None) -> None:
        await self._answer(interrupt_id, {"acknowledged": True, "by": USER}, via)

    async def _answer(self, interrupt_id: str, answer: dict[str, Any],
                      via: str | None = None) -> None:
        """``via``: the client the person answered from (a control socket's peer)."""
        if via:
            answer["via"] = via
        try:
            await self.interrupts.answer(interrupt_id, answer)
        except InterruptError as exc:
            raise ControlError(str(exc)) from None

    async def send_user_message(self, to: str, text: str) -> str:
        rt = self._agent(to) if to != ALL else None  # a broadcast goes to every agent
        if self.finished.is_set():
            raise ControlError("the run has ended: no agent reads messages any more")
        if rt is not None and rt.finished:
            raise ControlError(f"{ev.ended_text(to, rt.status)}: it reads no more messages")
        try:
            env = await self.post.send(USER, to, text)
        except MessageError as exc:
            raise ControlError(str(exc)) from None
        return env.id

    async def pause(self, agent_id: str) -> None:
        rt = self._agent(agent_id)
        if rt.finished:
            raise ControlError(ev.ended_text(agent_id, rt.status))
        await rt.pause()

    async def resume(self, agent_id: str) -> None:
        rt = self._agent(agent_id)
        if not rt.paused:
            raise ControlError(f"{agent_id} is not paused")
        await rt.resume()

    async def cancel(self, agent_id: str) -> None:
        rt = self._agent(agent_id)
        if rt.finished:
            raise ControlError(ev.ended_text(agent_id, rt.status))
        if rt.task is not None:
            rt.task.cancel()
            await asyncio.gather(rt.task, return_exceptions=True)

    async def handle_command(self, cmd: Any) -> Any:
        """One control command as a dict (a headless JSON line). Raises ControlError."""
        from engine.service.commands import dispatch
        return await dispatch(self, cmd)

    async def rollback(self, agent_id: str, checkpoint: str) -> None:
        rt = self._agent(agent_id)
        if self.workspaces is None:
            raise ControlError("rollback needs a team with `repo:` (agents work on a clone of it)")
        if not (rt.paused or rt.finished) or rt.current_call_id is not None:
            raise ControlError(f"{agent_id} is at work; pause it and wait until its current "
                               "call has ended, then roll back")
        text = await self.workspaces.rollback(agent_id, rt.sandbox, checkpoint)
        await self.emit(ev.NOTICE, agent_id, level="info", text=text)

    # -- views -------------------------------------------------------------------------
    def workspace(self, agent_id: str) -> Path:
        return self.team.workspace_of(self.team.agent(agent_id), self.run_id)

