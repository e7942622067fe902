"""The ``docker`` backend: one long-lived, hardened container per agent.

Each agent gets a container that sleeps forever (``init=True`` so zombies are
reaped) with its workspace bound read-write at ``/workspace`` and nothing else
from the host.  Commands run through the exec API, streamed back chunk by chunk.

Hardening: ``network_mode=none`` unless the agent opts in to ``bridge``, all
capabilities dropped, ``no-new-privileges``, a non-root user (the owner of the
workspace, so files stay the host user's), a read-only root file system with a
tmpfs ``/tmp``, pids / memory / CPU limits and a capped log.

Every blocking docker-py call runs in a worker thread; a streaming exec has its
own thread that feeds a bounded queue on the event loop, so a command that
prints gigabytes neither blocks the loop nor grows our memory.

Timeouts and cancellation: each command runs under ``setsid`` (its own process
group) from a tiny wrapper that records the group id in a pid file under
``/tmp``; killing means a second exec that sends SIGKILL to that group.  The
wrapper also kills what the command left behind in the background once it
exits, like the local backend.
"""


from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import secrets
import socket
import time
from pathlib import Path

from sandboxes import paths
from sandboxes.base import (
    TIMEOUT_EXIT_CODE,
    ExecResult,
    OutputCallback,
    OutputCollector,
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
)
from sandboxes.docker_exec import (
    _KILLER,
    _OOM_PROBE,
    _WRAPPER,
    WORKDIR,
    _ContainerStopped,
    _Exec,
)
from sandboxes.processes import proc_start_time

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
#: After a kill, how long to wait for the rest of the output before dropping the stream.
KILL_GRACE = 5.0

OOM_NOTE = (
    "\n[agentorch: the command was killed because the sandbox ran out of memory "
    "(limit {memory}); use less memory or raise the agent's resources.memory]\n"
)
KILLED_NOTE = "\n[agentorch: the command was killed (SIGKILL, exit 137)]\n"


# ---------------------------------------------------------------- helpers


def _slug(text: str, limit: int) -> str:
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.") or "x"
    return slug[:limit]


def _container_ids(workspace: Path) -> tuple[int, int]:
    """The uid:gid commands run as: the workspace owner's, or 1000:1000 for root's."""
    st = os.stat(workspace)
    if st.st_uid != 0:
        return st.st_uid, st.st_gid
    return FALLBACK_UID, FALLBACK_GID


def _hand_over(workspace: Path, uid: int, gid: int) -> None:
    """Running as root on the host: give root-owned workspace entries to the container user.

    Otherwise the non-root user in the container could not write the workspace
    (root on the host can still read and write everything in it).
    """
    if os.geteuid() != 0 or uid == 0:
        return
    root = str(workspace)
    if os.lstat(root).st_uid == 0:
        os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                if os.lstat(path).st_uid == 0:
                    os.lchown(path, uid, gid)
            except OSError:
                pass


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
        workspace = Path(os.path.realpath(spec.workspace))
        workspace.mkdir(parents=True, exist_ok=True)
        self._uid, self._gid = _container_ids(workspace)
        _hand_over(workspace, self._uid, self._gid)
        _ensure_image(client, spec.image)
        if spec.network not in ("none", "bridge"):
            raise SandboxError(
                f"unknown network {spec.network!r} for agent {spec.agent_id}; use none or bridge"
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
        api = client.api
        host_config = api.create_host_config(
            binds={str(workspace): {"bind": WORKDIR, "mode": "rw"}},
            network_mode=spec.network,
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
        name = f"agentorch-{_slug(spec.run_id, 40)}-{_slug(spec.agent_id, 40)}-{secrets.token_hex(3)}"
        try:
            created = api.create_container(
                spec.image,
                command=["sleep", "infinity"],
                user=self.user,
                working_dir=WORKDIR,
                labels=labels,
                environment=env,
                hostname=_slug(spec.agent_id, 63),
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

    async def stop(self) -> None:
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
        try:
            return await self._exec_once(command, timeout, on_output)
        except _ContainerStopped:
            # its init or sleep was killed (e.g. by the OOM killer): start it again, once
            await self._restart()
            try:
                return await self._exec_once(command, timeout, on_output)
            except _ContainerStopped:
                raise SandboxError(
                    f"the container of agent {self.spec.agent_id} keeps stopping; "
                    "check its image and memory limit"
                ) from None

    async def _exec_once(
        self, command: str, timeout: float, on_output: OutputCallback | None
    ) -> ExecResult:
        cid = self._require()
        loop = asyncio.get_running_loop()
        token = secrets.token_hex(8)
        run = _Exec(self._api, cid, ["sh", "-c", _WRAPPER, "agentorch", command, token],
                    self.user, loop)
        collector = OutputCollector(self.spec.max_output_bytes)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        timed_out = False
        exit_code = -1
        run.start()
        try:
            async with asyncio.timeout(timeout):
                exit_code = await self._pump(run, collector, decoder, on_output)
        except TimeoutError:
            timed_out = True
            await self._kill(run, token)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(KILL_GRACE):
                    await self._pump(run, collector, decoder, None)
            run.abort()
            exit_code = TIMEOUT_EXIT_CODE
        except asyncio.CancelledError:
            # kill first (the awaiting task is being cancelled: shield the kill)
            killer = asyncio.ensure_future(self._kill(run, token, abort_after=KILL_GRACE))
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(killer)
            raise
        finally:
            if not run.done and not timed_out:
                run.abort()  # never leave a reader thread holding a stream
        note = ""
        if exit_code == 137 and not timed_out:
            note = await self._kill_note()
        if note:
            collector.add(note.encode())
            if on_output is not None:
                await on_output(note)
        return ExecResult(exit_code, collector.text(), collector.truncated, timed_out)

    async def _pump(self, run: _Exec, collector, decoder, on_output) -> int:
        while True:
            kind, payload = await run.get()
            if kind == _Exec.DATA:
                collector.add(payload)
                if on_output is not None:
                    text = decoder.decode(payload)
                    if text:
                        await on_output(text)
            elif kind == _Exec.END:
                if on_output is not None:
                    tail = decoder.decode(b"", final=True)
                    if tail:
                        await on_output(tail)
                return payload
            else:
                raise self._exec_error(payload)

    def _exec_error(self, exc: BaseException) -> BaseException:
        docker = _docker_module()
        if (
            isinstance(exc, docker.errors.APIError)
            and exc.status_code == 409
            and "not running" in str(exc.explanation or exc)
        ):
            return _ContainerStopped()
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

    async def _kill(self, run: _Exec, token: str, abort_after: float | None = None) -> None:
        """SIGKILL the command's process group from a second exec; retried while the
        container is out of pids (a fork bomb)."""
        api, cid, user = run.api, run.container_id, run.user

        def kill() -> None:
            deadline = time.monotonic() + 10
            while True:
                try:
                    exec_id = api.exec_create(
                        cid, ["sh", "-c", _KILLER, "agentorch-kill", token],
                        stdout=True, stderr=True, user=user, workdir="/",
                    )["Id"]
                    api.exec_start(exec_id)
                    if api.exec_inspect(exec_id).get("ExitCode") == 0:
                        return
                except Exception:  # noqa: BLE001 - container gone or out of pids: retry
                    pass
                if time.monotonic() > deadline:
                    return
                time.sleep(0.1)

        await _in_thread(kill)
        if abort_after is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(abort_after):
                    while not run.done:
                        await run.get()
            run.abort()

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
        except Exception as exc:  # noqa: BLE001
            raise self._exec_error(exc) from None

    # -- files (on the host side of the bind mount)
    async def read_file(self, path: str) -> str:
        return await _in_thread(paths.read_text, self.spec.workspace, path)

    async def write_file(self, path: str, content: str) -> None:
        def write() -> None:
            target = paths.write_text(self.spec.workspace, path, content)
            self._give_to_container_user(target)

        await _in_thread(write)

    def _give_to_container_user(self, target: Path) -> None:
        """As root on the host, files we write must stay writable for the container user."""
        if os.geteuid() != 0 or self._uid == 0:
            return
        root = Path(os.path.realpath(self.spec.workspace))
        node = Path(target)
        while node != root and root in node.parents:
            with contextlib.suppress(OSError):
                if os.lstat(node).st_uid == 0:
                    os.lchown(node, self._uid, self._gid)
            node = node.parent
