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
import concurrent.futures
import contextlib
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

DEFAULT_IMAGE = "agentorch/sandbox:latest"
TEST_IMAGE = "agentorch/sandbox-test:latest"
BUILD_DEFAULT_IMAGE = "docker build -t agentorch/sandbox:latest -f sandboxes/Dockerfile sandboxes/"
BUILD_TEST_IMAGE = "sandboxes/images/build-test-image.sh"

LABEL_RUN = "agentorch.run"
LABEL_AGENT = "agentorch.agent"
LABEL_PID = "agentorch.pid"
LABEL_PID_START = "agentorch.pid_start"
LABEL_HOST = "agentorch.host"

WORKDIR = paths.CONTAINER_WORKSPACE
#: uid:gid inside the container when the workspace belongs to root.
FALLBACK_UID = 1000
FALLBACK_GID = 1000
TMPFS_SIZE = "256m"
LOG_MAX_SIZE = "1m"
#: In-flight output chunks between the reader thread and the loop (each <= 32 KiB).
QUEUE_SLOTS = 32
#: After a kill, how long to wait for the rest of the output before dropping the stream.
KILL_GRACE = 5.0

OOM_NOTE = (
    "\n[agentorch: the command was killed because the sandbox ran out of memory "
    "(limit {memory}); use less memory or raise the agent's resources.memory]\n"
)
KILLED_NOTE = "\n[agentorch: the command was killed (SIGKILL, exit 137)]\n"

# The wrapper every command runs under.  $1 is the command, $2 a random token.
# The command gets its own session and process group (setsid without a fork,
# since a background child is not a group leader); its pid, which is the group
# id, goes to a pid file so that a second exec can kill the whole tree.  The
# ".k" file closes the race where the kill arrives before the pid file exists.
# stderr goes into the same pipe as stdout, so the merged output keeps its order.
_WRAPPER = r"""f=/tmp/.agentorch-$2
if command -v setsid >/dev/null 2>&1; then setsid sh -c "$1" </dev/null 2>&1 & else sh -c "$1" </dev/null 2>&1 & fi
p=$!
echo $p >$f.p
[ -e $f.k ] && kill -9 -$p 2>/dev/null
wait $p
r=$?
kill -9 -$p 2>/dev/null
rm -f $f.p $f.k
exit $r"""

_KILLER = r"""f=/tmp/.agentorch-$1
: >$f.k
if read p <$f.p 2>/dev/null; then kill -9 -$p 2>/dev/null || kill -9 $p 2>/dev/null; fi
exit 0"""

_OOM_PROBE = "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"

# Worker threads for short blocking calls, separate from the loop's default
# executor so that many agents never starve the engine's own to_thread calls.
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="agentorch-docker")

_client_lock = threading.Lock()
_client: Any = None


# ---------------------------------------------------------------- client


def _docker_module():
    try:
        import docker  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise SandboxError(
            "the Python package 'docker' is missing; install agentorch's dependencies "
            "(pip install -e .) or set sandbox.backend: local"
        ) from exc
    return docker


def _no_daemon_error(detail: object) -> SandboxError:
    return SandboxError(
        f"Docker is not reachable ({_short(detail)}); start Docker (e.g. `sudo systemctl start "
        "docker`, or run `dockerd`) or set `sandbox.backend: local` in agents.yaml"
    )


def _get_client():
    """The shared docker-py client (thread-safe enough for concurrent requests)."""
    global _client
    with _client_lock:
        if _client is None:
            docker = _docker_module()
            try:
                _client = docker.from_env(timeout=120, max_pool_size=64)
            except Exception as exc:  # DockerException: no daemon / bad DOCKER_HOST
                raise _no_daemon_error(exc) from None
        return _client


def _short(detail: object, limit: int = 160) -> str:
    text = " ".join(str(detail).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def _in_thread(fn: Callable, *args):
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)


def docker_available(timeout: float = 2.0) -> bool:
    """True when a Docker daemon answers a ping within ``timeout`` seconds.  Never raises."""
    try:
        docker = _docker_module()
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def build_command(image: str) -> str:
    """The command that builds ``image``, for error messages."""
    repo = image.rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if image == DEFAULT_IMAGE:
        return BUILD_DEFAULT_IMAGE
    if image == TEST_IMAGE:
        return BUILD_TEST_IMAGE
    if repo == DEFAULT_IMAGE.split(":")[0]:
        return f"docker build -t {image} -f sandboxes/Dockerfile sandboxes/"
    if repo == TEST_IMAGE.split(":")[0]:
        return f"{BUILD_TEST_IMAGE} {image}"
    return f"docker build -t {image} DIR"


def _missing_image_error(image: str, reason: str) -> SandboxError:
    return SandboxError(
        f"Docker image {image} is not available ({reason}); build it with "
        f"`{build_command(image)}` (or pull it where a registry is reachable)"
    )


def _ensure_image(client, image: str, pull: bool = True) -> None:
    docker = _docker_module()
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.DockerException as exc:
        raise _no_daemon_error(exc) from None
    reason = "not present"
    if pull:
        try:
            repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
            client.images.pull(repo or image, tag=tag or "latest")
            return
        except Exception as exc:
            reason = f"pull failed: {_short(getattr(exc, 'explanation', None) or exc, 100)}"
    raise _missing_image_error(image, reason)


async def check_docker(image: str = DEFAULT_IMAGE) -> None:
    """Raise SandboxError with what to do when Docker or ``image`` is not usable."""

    def check() -> None:
        client = _get_client()
        try:
            client.ping()
        except Exception as exc:
            raise _no_daemon_error(exc) from None
        _ensure_image(client, image)

    await _in_thread(check)


# ---------------------------------------------------------------- liveness


def _proc_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), to detect pid reuse."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, start_time: str | None = None) -> bool:
    """True when process ``pid`` runs on this host (and, if given, started at ``start_time``)."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    if start_time:
        current = _proc_start_time(pid)
        if current is not None and current != start_time:
            return False  # the pid was reused by another process
    return True


def _owner_alive(labels: dict[str, str]) -> bool | None:
    """Whether the process that created a container still runs; None if we cannot tell."""
    pid = labels.get(LABEL_PID)
    if not pid or labels.get(LABEL_HOST) != socket.gethostname():
        return None
    return pid_alive(pid, labels.get(LABEL_PID_START))


async def cleanup_stale_containers(
    is_run_alive: Callable[[str], bool] | None = None,
) -> list[str]:
    """Remove our containers whose run is no longer alive; return their short ids.

    Only containers labelled ``agentorch.run`` are considered.  A run is alive
    when ``is_run_alive(run_id)`` says so (the engine's store) or when the pid
    in the container's ``agentorch.pid`` label still runs on this host.  With no
    ``is_run_alive``, a container whose owner cannot be judged (another host,
    no pid label) is kept.  ``is_run_alive`` is called on the event loop.
    """
    client = _get_client()

    def listing():
        return client.api.containers(all=True, filters={"label": LABEL_RUN})

    containers = await _in_thread(listing)
    stale: list[str] = []
    for info in containers:
        labels = info.get("Labels") or {}
        run_id = labels.get(LABEL_RUN)
        if not run_id:
            continue
        if is_run_alive is not None and is_run_alive(run_id):
            continue
        owner = _owner_alive(labels)
        if owner is None:
            if is_run_alive is None:
                continue  # cannot judge: never remove
        elif owner:
            continue
        stale.append(info["Id"])

    def remove(cid: str) -> str | None:
        docker = _docker_module()
        try:
            client.api.remove_container(cid, force=True, v=True)
        except docker.errors.NotFound:
            return None
        return cid[:12]

    removed = await asyncio.gather(*(_in_thread(remove, cid) for cid in stale))
    return [cid for cid in removed if cid]


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


# ---------------------------------------------------------------- one exec


class _ContainerStopped(Exception):
    """The container is not running (its main process died)."""


class _Exec:
    """One streaming exec: a reader thread feeding a bounded queue on the loop."""

    DATA, END, ERROR = 0, 1, 2

    def __init__(self, api, container_id: str, argv: list[str], user: str, loop) -> None:
        self.api = api
        self.container_id = container_id
        self.argv = argv
        self.user = user
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.slots = threading.Semaphore(QUEUE_SLOTS)
        self.aborted = threading.Event()
        self.stream = None
        self.exec_id: str | None = None
        self.done = False
        self.thread = threading.Thread(target=self._main, name="agentorch-exec", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # -- reader thread
    def _post(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # loop closed
            self.aborted.set()

    def _main(self) -> None:
        try:
            self.exec_id = self.api.exec_create(
                self.container_id,
                self.argv,
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                user=self.user,
                workdir=WORKDIR,
            )["Id"]
            self.stream = self.api.exec_start(self.exec_id, stream=True)
            if self.aborted.is_set():
                self.stream.close()
            for data in self.stream:
                while not self.slots.acquire(timeout=0.2):
                    if self.aborted.is_set():
                        break
                if self.aborted.is_set():
                    break
                self._post((self.DATA, data))
            with contextlib.suppress(Exception):
                self.stream.close()
            self._post((self.END, self._exit_code()))
        except BaseException as exc:  # noqa: BLE001 - handed to the loop
            self._post((self.ERROR, exc))

    def _exit_code(self) -> int:
        # The stream can end a moment before the daemon marks the exec finished.
        deadline = time.monotonic() + 5
        delay = 0.001
        while True:
            info = self.api.exec_inspect(self.exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if time.monotonic() > deadline:
                return -1
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # -- loop side
    async def get(self):
        item = await self.queue.get()
        if item[0] == self.DATA:
            self.slots.release()
        else:
            self.done = True
        return item

    def abort(self) -> None:
        """Stop reading (from any thread): the reader closes the stream and ends."""
        self.aborted.set()
        stream = self.stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        # wake a reader blocked on the slots
        self.slots.release()


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
        start_time = _proc_start_time(me)
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
        name = "agentorch-{}-{}-{}".format(
            _slug(spec.run_id, 40), _slug(spec.agent_id, 40), secrets.token_hex(3)
        )
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
            killer = asyncio.ensure_future(self._kill(run, token, abort_after=KILL_GRACE))
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(killer)
            raise
        except BaseException:
            run.abort()
            raise
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
