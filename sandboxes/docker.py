"""The ``docker`` backend: one long-lived, hardened container per agent.

Each agent gets a container that sleeps forever (``init=True`` so zombies are
reaped) with its workspace bound read-write at ``/workspace`` and nothing else
from the host.  Commands run through the exec API, streamed back chunk by chunk.

Hardening: ``network_mode=none`` (reaching the run's egress proxy, if any, through a
bind-mounted socket and a relay) unless the agent opts in to ``unrestricted``, all
capabilities dropped, ``no-new-privileges``, a non-root user (the owner of the
workspace, so files stay the host user's), a read-only root file system with a
tmpfs ``/tmp``, pids / memory / CPU limits and a capped log.

Every blocking docker-py call runs in a worker thread; a streaming exec has its
own thread that feeds a bounded queue on the event loop, so a command that
prints gigabytes neither blocks the loop nor grows our memory.

Commands go through one long-lived exec per container running the static
supervisor (``sandboxes/docker_session.py``): a fresh ``sh`` with a fixed
environment per command, in its own session, killed as a whole tree on timeout
or cancel, and nothing left running once no command runs.  File tools run inside
the container too (``sandboxes/docker_files.py``): the host never opens a path
inside a workspace.  Where the supervisor cannot be started (no C compiler to
build it, a TLS daemon connection) commands fall back to one exec each,
said once in the agent's console.
"""


from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
import time
from pathlib import Path

from sandboxes.base import (
    TIMEOUT_EXIT_CODE,
    ExecResult,
    OutputCallback,
    OutputCollector,
    PathEscapeError,
    Sandbox,
    SandboxError,
    SandboxSpec,
)
from sandboxes.docker_cleanup import (
    LABEL_AGENT,
    LABEL_HOST,
    LABEL_PID,
    LABEL_PID_START,
    LABEL_RUN,
    cleanup_stale_containers,
    pid_alive,
)
from sandboxes.docker_client import (
    BUILD_DEFAULT_IMAGE,
    BUILD_TEST_IMAGE,
    DEFAULT_IMAGE,
    TEST_IMAGE,
    _docker_module,
    _ensure_image,
    _get_client,
    _in_thread,
    _missing_image_error,
    _no_daemon_error,
    _short,
    build_command,
    check_docker,
    docker_available,
    docker_slug,
)
from sandboxes.docker_exec import (
    _OOM_PROBE,
    WORKDIR,
    ContainerStopped,
    exec_once,
    file_op_sync,
)
from sandboxes.docker_files import (
    FILE_TIMEOUT,
    READ_SCRIPT,
    WRITE_SCRIPT,
    check_size,
    container_path,
    read_error,
    write_error,
)
from sandboxes.docker_setup import (
    command_env,
    install_supervisor,
    prepare_workspace,
    start_relay,
)
from sandboxes.paths import MAX_FILE_BYTES
from sandboxes.processes import proc_start_time
from sandboxes.relay import SOCKET_DIR, relay_uid
from sandboxes.remote_workspace import ensure_volume, seed_workspace, volume_name, writable_problem
from sandboxes.session import DockerExecSession, ExecSession, SessionDied, StreamedOutput, run_collected
from sandboxes.supervisor import CONTAINER_PATH, SupervisorUnavailable
from sandboxes.workspace_disk import full_message, mount_limited, mounted_usage

__all__ = [
    "BUILD_DEFAULT_IMAGE",
    "BUILD_TEST_IMAGE",
    "DEFAULT_IMAGE",
    "LABEL_AGENT",
    "LABEL_HOST",
    "LABEL_PID",
    "LABEL_PID_START",
    "LABEL_RUN",
    "TEST_IMAGE",
    "DockerSandbox",
    "build_command",
    "check_docker",
    "cleanup_stale_containers",
    "docker_available",
    "pid_alive",
]

#: uid:gid inside the container when the workspace belongs to root.
FALLBACK_UID = 1000
FALLBACK_GID = 1000
TMPFS_SIZE = "256m"
LOG_MAX_SIZE = "1m"

OOM_NOTE = (
    "\n[agentorch: the command was killed because the sandbox ran out of memory "
    "(limit {memory}); use less memory or raise the agent's resources.memory]\n"
)
KILLED_NOTE = "\n[agentorch: the command was killed (SIGKILL, exit 137)]\n"


# ---------------------------------------------------------------- helpers


#: Without its own file system, a workspace's size is measured at most this often (s).
DISK_CHECK_EVERY = 1.0


def _parse_oom_kills(text: str) -> int | None:
    match = re.search(r"^oom_kill (\d+)", text, re.M)
    return int(match.group(1)) if match else None



# ---------------------------------------------------------------- the sandbox



class DockerSandbox(Sandbox):
    kind = "docker"

    def __init__(self, spec: SandboxSpec) -> None:
        super().__init__(spec)
        self.container_id: str | None = None
        self.container_name: str | None = None
        self._uid = FALLBACK_UID
        self._gid = FALLBACK_GID
        self._oom_kills = 0
        self._client = None
        self._env: dict[str, str] = {}
        self._session: ExecSession | None = None
        self._session_lock = asyncio.Lock()
        self._exempt: list[int] | None = None  # the container's own processes, from its first session
        self._fallback: str | None = None  # why commands use one exec each
        self._fallback_said = False
        self._disk_mounted = False  # the workspace is its own file system of spec.disk bytes
        self._disk_checked = 0.0

    @property
    def label(self) -> str:
        return self.container_id[:12] if self.container_id else "DOCKER"

    @property
    def user(self) -> str:
        return f"{self._uid}:{self._gid}"

    # -- lifecycle
    async def start(self) -> None:
        if self.container_id is not None:
            return
        await _in_thread(self._start_sync)

    def _start_sync(self) -> None:
        docker = _docker_module()
        client = self._client = _get_client()
        spec = self.spec
        fresh = False
        workspace_source: str | None = None
        if spec.remote and not spec.ephemeral:
            # the daemon is on another machine: the workspace is a named volume there
            # (kept when the container goes, like a host directory), never a bind mount
            fresh = ensure_volume(client.api, self.volume_name, spec.run_id, spec.agent_id)
            workspace_source = self.volume_name
        elif not spec.remote:
            workspace = Path(os.path.realpath(spec.workspace))
            self._uid, self._gid = prepare_workspace(workspace, FALLBACK_UID, FALLBACK_GID)
            if spec.disk:
                self._disk_mounted = mount_limited(workspace, spec.disk, self._uid, self._gid)
            workspace_source = str(workspace)
        _ensure_image(client, spec.image)
        if spec.network not in ("none", "unrestricted"):
            raise SandboxError(
                f"unknown network {spec.network!r} for agent {spec.agent_id}; use none or unrestricted"
            )
        me = os.getpid()
        labels = {
            LABEL_RUN: spec.run_id,
            LABEL_AGENT: spec.agent_id,
            LABEL_PID: str(me),
            LABEL_HOST: socket.gethostname(),
        }
        start_time = proc_start_time(me)
        if start_time:
            labels[LABEL_PID_START] = start_time
        env = {"HOME": "/tmp", **spec.env, "AGENTORCH_AGENT": spec.agent_id}
        self._env = command_env(client.api, spec.image, env)
        api = client.api
        binds = {workspace_source: {"bind": WORKDIR, "mode": "rw"}} if workspace_source else {}
        if spec.service_dir is not None:  # the engine's sockets, reached through the relay
            if spec.remote:
                raise SandboxError(f"agent {spec.agent_id}'s network rules need the Docker daemon "
                                   "on this machine (the proxy's socket is bound into the container)")
            binds[str(spec.service_dir)] = {"bind": SOCKET_DIR, "mode": "ro"}
        if spec.remote and spec.binds:
            raise SandboxError(f"agent {spec.agent_id} needs folders of this machine bound into "
                               "its container, which a Docker daemon on another machine cannot do")
        for host, inside, read_only in spec.binds:
            if not read_only and os.geteuid() == 0:  # the sandbox user writes there
                os.chown(host, self._uid, self._gid, follow_symlinks=False)
            binds[host] = {"bind": inside, "mode": "ro" if read_only else "rw"}
        host_config = api.create_host_config(
            binds=binds,
            network_mode="bridge" if spec.network == "unrestricted" else "none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={TMPFS_SIZE},mode=1777"},
            init=True,
            pids_limit=int(spec.pids),
            mem_limit=spec.memory,
            memswap_limit=spec.memory,  # no swap: a memory hog is OOM-killed, not swapped
            nano_cpus=int(float(spec.cpus) * 1e9) if spec.cpus else None,
            log_config=docker.types.LogConfig(
                type="json-file", config={"max-size": LOG_MAX_SIZE, "max-file": "1"}
            ),
        )
        name = f"agentorch-{docker_slug(spec.run_id, 40)}-{docker_slug(spec.agent_id, 40)}-{secrets.token_hex(3)}"
        try:
            created = api.create_container(
                spec.image,
                command=["sleep", "infinity"],
                user=self.user,
                working_dir=WORKDIR,
                labels=labels,
                environment=env,
                hostname=docker_slug(spec.agent_id, 63),
                volumes=[WORKDIR] if not workspace_source else None,  # ephemeral: anonymous
                host_config=host_config,
                name=name,
            )
        except docker.errors.ImageNotFound:
            raise _missing_image_error(spec.image, "not present") from None
        except docker.errors.APIError as exc:
            raise SandboxError(
                f"could not create the container for agent {spec.agent_id}: "
                f"{_short(exc.explanation or exc)}; check the agent's image and resources"
            ) from None
        cid = created["Id"]
        try:
            api.start(cid)
        except docker.errors.APIError as exc:
            with contextlib.suppress(Exception):
                api.remove_container(cid, force=True)
            raise SandboxError(
                f"could not start the container for agent {spec.agent_id}: "
                f"{_short(exc.explanation or exc)}; check the agent's image and resources"
            ) from None
        self.container_id = cid
        self.container_name = name
        self._prepare_sync()
        if fresh and spec.seed is not None:  # the agent's clone, shipped in as data
            try:
                problem = writable_problem(api, cid, self.user, spec.image)
                if problem is not None:
                    raise SandboxError(problem)
                seed_workspace(api, cid, spec.seed, self._uid, self._gid, spec.agent_id)
            except BaseException:  # no half-filled volume for a later start to find
                self.container_id = None
                with contextlib.suppress(Exception):
                    api.remove_container(cid, force=True)
                    api.remove_volume(self.volume_name, force=True)
                raise

    @property
    def volume_name(self) -> str:
        return volume_name(self.spec.run_id, self.spec.agent_id)

    def _prepare_sync(self) -> None:
        """As root in the container: fix /tmp and install the supervisor (or note why not)."""
        self._exempt = None
        problem = install_supervisor(self._api, self._require(), self.spec.image)
        if problem is not None and self._fallback is None:
            self._fallback = problem
        if self.spec.relays:
            start_relay(self._api, self._require(), self.spec.relays, relay_uid(self._uid))

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        cid, self.container_id = self.container_id, None
        if cid is None:
            return

        def remove() -> None:
            docker = _docker_module()
            try:
                (self._client or _get_client()).api.remove_container(cid, force=True, v=True)
            except docker.errors.NotFound:
                pass

        await _in_thread(remove)

    def _require(self) -> str:
        if self.container_id is None:
            raise SandboxError(
                f"the sandbox of agent {self.spec.agent_id} is not started; start it first"
            )
        return self.container_id

    @property
    def _api(self):
        return (self._client or _get_client()).api

    # -- exec
    async def exec(
        self, command: str, timeout: float, on_output: OutputCallback | None = None
    ) -> ExecResult:
        session = await self._ensure_session()
        if session is None:
            return await self._exec_fallback(command, timeout, on_output)
        out = StreamedOutput(self.spec.max_output_bytes, on_output)
        collector = out.collector
        try:
            done = await session.run(["/bin/sh", "-c", command], out.on_data, env=self._env,
                                     cwd=WORKDIR, timeout=timeout)
        except SessionDied as exc:
            await out.end(f"\n[agentorch: the sandbox session ended while the command ran ({exc}); "
                          "the command was interrupted and may have run in part]\n")
            return ExecResult(-1, collector.text(), collector.truncated, False, interrupted=True)
        await out.end()
        exit_code = TIMEOUT_EXIT_CODE if done.timed_out else done.code
        if exit_code == 137 and not done.killed and not done.timed_out:
            await self._note(collector, on_output, await self._kill_note())
        return ExecResult(exit_code, collector.text(), collector.truncated, done.timed_out)

    @staticmethod
    async def _note(collector: OutputCollector, on_output: OutputCallback | None, note: str) -> None:
        collector.add(note.encode())
        if on_output is not None:
            await on_output(note)

    async def _ensure_session(self) -> ExecSession | None:
        """The live session, a new one if the last died, or None to use one exec per command."""
        session = self._session
        if session is not None and session.alive:
            return session
        async with self._session_lock:
            if self._session is not None and self._session.alive:
                return self._session
            self._session = None
            if self._fallback is not None:
                return None
            cid = self._require()
            session = DockerExecSession(self._api, cid, self.user, self._exempt)
            try:
                await session.open()
            except (SessionDied, SupervisorUnavailable) as exc:
                await session.close()
                if not await self._container_running():
                    # its main process died (e.g. out of memory): start it again, once
                    await self._restart()
                    return await self._reopen_after_restart()
                self._fallback = str(exc)
                return None
            except Exception as exc:  # noqa: BLE001 - docker-py errors
                await session.close()
                error = self._exec_error(exc)
                if isinstance(error, ContainerStopped):
                    await self._restart()
                    return await self._reopen_after_restart()
                raise error from None
            self._exempt = session.exempt
            self._session = session
            return session

    async def _reopen_after_restart(self) -> ExecSession | None:
        session = DockerExecSession(self._api, self._require(), self.user, None)
        try:
            await session.open()
        except Exception as exc:  # noqa: BLE001
            await session.close()
            raise SandboxError(
                f"the container of agent {self.spec.agent_id} keeps stopping ({_short(exc)}); "
                "check its image and memory limit"
            ) from None
        self._exempt = session.exempt
        self._session = session
        return session

    async def _container_running(self) -> bool:
        try:
            info = await _in_thread(self._api.inspect_container, self._require())
        except Exception:  # noqa: BLE001
            return False
        return bool(info.get("State", {}).get("Running"))

    async def _exec_fallback(
        self, command: str, timeout: float, on_output: OutputCallback | None
    ) -> ExecResult:
        if not self._fallback_said:
            self._fallback_said = True
            note = (f"[agentorch: no exec session in this sandbox ({self._fallback}); "
                    "each command uses its own docker exec, ~50 ms slower]\n")
            if on_output is not None:
                await on_output(note)
        try:
            return await self._exec_once(command, timeout, on_output)
        except ContainerStopped:
            await self._restart()
            try:
                return await self._exec_once(command, timeout, on_output)
            except ContainerStopped:
                raise SandboxError(
                    f"the container of agent {self.spec.agent_id} keeps stopping; "
                    "check its image and memory limit"
                ) from None

    async def _exec_once(
        self, command: str, timeout: float, on_output: OutputCallback | None
    ) -> ExecResult:
        collector = OutputCollector(self.spec.max_output_bytes)
        exit_code, timed_out = await exec_once(self._api, self._require(), self.user, command,
                                               timeout, collector, on_output, self._exec_error)
        if exit_code == 137 and not timed_out:
            await self._note(collector, on_output, await self._kill_note())
        return ExecResult(exit_code, collector.text(), collector.truncated, timed_out)

    def _exec_error(self, exc: BaseException) -> BaseException:
        docker = _docker_module()
        if (
            isinstance(exc, docker.errors.APIError)
            and exc.status_code == 409
            and "not running" in str(exc.explanation or exc)
        ):
            return ContainerStopped()
        if isinstance(exc, docker.errors.NotFound):
            return SandboxError(
                f"the container of agent {self.spec.agent_id} is gone (removed outside "
                "agentorch?); restart the agent"
            )
        if isinstance(exc, docker.errors.APIError):
            return SandboxError(
                f"could not run the command in the container of agent {self.spec.agent_id}: "
                f"{_short(exc.explanation or exc)}; restart the agent if it persists"
            )
        if isinstance(exc, (docker.errors.DockerException, OSError)):
            return _no_daemon_error(exc)
        return exc

    async def _probe(self, command: str) -> tuple[int, str]:
        api, cid, user = self._api, self._require(), self.user

        def probe() -> tuple[int, str]:
            exec_id = api.exec_create(cid, ["sh", "-c", command], user=user, workdir="/")["Id"]
            out = api.exec_start(exec_id)
            return api.exec_inspect(exec_id).get("ExitCode"), out.decode("utf-8", "replace")

        return await _in_thread(probe)

    async def _kill_note(self) -> str:
        """Exit 137 that we did not cause: find out whether the memory limit did it."""
        try:
            _, text = await self._probe(_OOM_PROBE)
            count = _parse_oom_kills(text)
            if count is None:
                info = await _in_thread(self._api.inspect_container, self._require())
                oom = bool(info.get("State", {}).get("OOMKilled"))
                count = self._oom_kills + 1 if oom else self._oom_kills
            if count > self._oom_kills:
                self._oom_kills = count
                return OOM_NOTE.format(memory=self.spec.memory)
        except Exception:  # noqa: BLE001 - the note is best effort
            pass
        return KILLED_NOTE

    async def _restart(self) -> None:
        try:
            await _in_thread(self._api.start, self._require())
            await _in_thread(self._prepare_sync)
        except Exception as exc:  # noqa: BLE001
            raise self._exec_error(exc) from None

    async def hold_sweeps(self, hold: bool) -> None:
        session = await self._ensure_session()
        if session is not None:
            session.hold_sweeps(hold)
            await session.ping()  # the supervisor has read it before the shell starts

    async def run_supervisor(self, args: list[str], stdin: bytes | None = None,
                             timeout: float = 120) -> tuple[int, bytes] | None:
        """The supervisor binary in a helper mode (``--list`` / ``--read``: the workspace
        for checkpoints, sandboxes/supervisor/snapshot.c) as the sandbox user, through the
        exec session: (exit code, stdout), or None without a working session."""
        session = await self._ensure_session()
        return None if session is None else await run_collected(session, [CONTAINER_PATH, *args], stdin, timeout)

    # -- the workspace size limit
    async def disk_problem(self) -> str | None:
        limit = self.spec.disk
        if not limit or self.container_id is None:
            return None
        if self._disk_mounted:
            used, size = await asyncio.to_thread(mounted_usage, Path(os.path.realpath(self.spec.workspace)))
            return full_message(self.spec.agent_id, used, limit, capacity=size)
        if time.monotonic() - self._disk_checked < DISK_CHECK_EVERY:
            return None
        self._disk_checked = time.monotonic()
        session = await self._ensure_session()
        if session is None:
            return None
        out = bytearray()

        async def on_data(_kind: str, data: bytes) -> None:
            out.extend(data[:4096])

        done = await session.run(["/bin/sh", "-c", "du -sk /workspace 2>/dev/null"], on_data,
                                 env=self._env, cwd="/", timeout=60)
        fields = bytes(out).split()
        if done.code != 0 and not fields:
            return None
        try:
            used = int(fields[0]) * 1024
        except (IndexError, ValueError):
            return None
        return full_message(self.spec.agent_id, used, limit)

    # -- files (inside the container, as the sandbox user: see sandboxes/docker_files.py)
    async def _file_op(self, script: str, args: list[str], stdin: bytes | None) -> tuple[int, bytes, str]:
        session = await self._ensure_session()
        out = bytearray()
        err = bytearray()

        async def on_data(kind: str, data: bytes) -> None:
            (out if kind == "O" else err).extend(data)

        if session is None:
            return await _in_thread(file_op_sync, self._api, self._require(), self.user, script, args, stdin)
        try:
            done = await session.run(["/bin/sh", "-c", script, "agentorch-file", *args], on_data,
                                     env=self._env, cwd=WORKDIR, timeout=FILE_TIMEOUT,
                                     stdin=stdin, merge=False)
        except SessionDied as exc:
            raise SandboxError(f"the sandbox session ended during a file operation ({exc}); try again") from None
        code = TIMEOUT_EXIT_CODE if done.timed_out else done.code
        return code, bytes(out), err.decode("utf-8", "replace")

    async def read_file(self, path: str) -> str:
        target = container_path(self.spec.workspace, path)
        code, data, err = await self._file_op(READ_SCRIPT, [target, str(MAX_FILE_BYTES + 1)], None)
        if code != 0:
            raise read_error(path, code, err)
        return check_size(path, data)

    async def write_file(self, path: str, content: str) -> None:
        target = container_path(self.spec.workspace, path)
        if target == WORKDIR:
            raise PathEscapeError("write_file needs a file name, not the workspace itself")
        data = content.encode("utf-8", "surrogateescape")
        code, _, err = await self._file_op(WRITE_SCRIPT, [target], data)
        if code != 0:
            raise write_error(path, code, err)
