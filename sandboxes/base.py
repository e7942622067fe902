"""The sandbox protocol: where an agent's commands run and its files live.

Every backend (docker, local, later remote hosts) implements :class:`Sandbox`.
The engine only ever talks to this protocol; it never imports a backend directly
except through :func:`sandboxes.create_sandbox`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Called with each chunk of output (stdout and stderr merged, decoded as UTF-8
#: with replacement) while a command runs.  Awaited, so a slow consumer applies
#: back-pressure to the command's output instead of growing memory.
OutputCallback = Callable[[str], Awaitable[None]]

DEFAULT_MAX_OUTPUT = 1024 * 1024  # bytes of output kept per command
DEFAULT_IMAGE = "agentorch/sandbox:latest"  # build: sandboxes/Dockerfile
TIMEOUT_EXIT_CODE = 124


class SandboxError(Exception):
    """A problem the user can fix (no Docker daemon, missing image, ...).

    The message is one clear sentence saying what is wrong and what to do.
    """


class PathEscapeError(SandboxError):
    """A file path that would leave the agent's workspace."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str
    truncated: bool = False
    timed_out: bool = False
    #: the sandbox's session died while the command ran (it may have run in part)
    interrupted: bool = False

    def as_dict(self) -> dict:
        result = {
            "exit_code": self.exit_code,
            "output": self.output,
            "truncated": self.truncated,
            "timed_out": self.timed_out,
        }
        if self.interrupted:
            result["interrupted"] = True
        return result


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a backend needs to build one agent's sandbox (plain data, no engine types)."""

    backend: str  # "docker" | "local" (already resolved from "auto")
    workspace: Path  # host directory; created if missing
    run_id: str
    agent_id: str
    image: str = DEFAULT_IMAGE
    network: str = "none"  # "none" | "unrestricted" (Docker's bridge, no filter)
    memory: str = "512m"
    cpus: float = 1.0
    pids: int = 256
    max_output_bytes: int = DEFAULT_MAX_OUTPUT
    env: dict[str, str] = field(default_factory=dict)
    #: the Docker daemon is on another machine: the workspace is a named volume on it,
    #: not a bind mount of ``workspace`` (which then stays unused on this host)
    remote: bool = False
    #: remote only: a host folder (a fresh clone the engine made) shipped into a new
    #: workspace volume as data at the first start, then removed (sandboxes/remote_workspace.py)
    seed: Path | None = None
    #: the workspace lives only as long as the container (a QA copy): on a remote daemon
    #: an anonymous volume, removed with it
    ephemeral: bool = False
    #: workspace size limit in bytes (resources.disk); see sandboxes/workspace_disk.py
    disk: int | None = None
    #: the engine's sockets for this agent (egress proxy, MCP): a host directory outside
    #: the workspace, bound read-only at sandboxes.relay.SOCKET_DIR (docker only)
    service_dir: Path | None = None
    #: (port, socket name in service_dir, or an absolute path in the container): the
    #: relay forwards 127.0.0.1:port to the socket
    relays: tuple[tuple[int, str], ...] = ()
    #: more host directories to bind (host path, container path, read-only): a CLI agent's
    #: engine-written files and its own state (engine/brains/cli_agent.py); docker only
    binds: tuple[tuple[str, str, bool], ...] = ()


class OutputCollector:
    """Keeps at most ``limit`` bytes of a command's output: the head and the tail.

    Anything in between is dropped and replaced by a visible marker, so a command
    that prints gigabytes costs a bounded amount of memory.
    """

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT) -> None:
        self.limit = max(limit, 64)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def add(self, data: bytes) -> None:
        self.total += len(data)
        head_room = self.limit // 2 - len(self._head)
        if head_room > 0:
            self._head += data[:head_room]
            data = data[head_room:]
        if data:
            self._tail += data
            keep = self.limit - self.limit // 2
            if len(self._tail) > keep * 2:
                del self._tail[: len(self._tail) - keep]

    def text(self) -> str:
        keep = self.limit - self.limit // 2
        tail = bytes(self._tail[-keep:]) if self._tail else b""
        head = bytes(self._head)
        if not self.truncated:
            return (head + bytes(self._tail)).decode("utf-8", "replace")
        dropped = self.total - len(head) - len(tail)
        marker = f"\n[... output truncated: {dropped} bytes omitted ...]\n".encode()
        return (head + marker + tail).decode("utf-8", "replace")


class Sandbox(abc.ABC):
    """One agent's isolated place to run commands and keep files."""

    kind: str = "abstract"

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec

    @property
    def label(self) -> str:
        """Short text for the UI: a container short id, or ``LOCAL``."""
        return self.kind.upper()

    @property
    def isolated(self) -> bool:
        return True

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def exec(
        self, command: str, timeout: float, on_output: OutputCallback | None = None
    ) -> ExecResult:
        """Run ``command`` with ``sh -c`` in the workspace.

        A timeout kills the command's whole process tree and returns exit code
        124 with ``timed_out=True``.  Cancelling the awaiting task kills the
        running command before ``CancelledError`` propagates.
        """

    @abc.abstractmethod
    async def read_file(self, path: str) -> str: ...

    @abc.abstractmethod
    async def write_file(self, path: str, content: str) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    async def hold_sweeps(self, hold: bool) -> None:
        """Spare (True) or no longer spare (False) processes no command of ours started:
        a person's shell opened in the sandbox must survive the agent's commands ending."""
        return None

    async def disk_problem(self) -> str | None:
        """A sentence when the workspace is at its size limit (``resources.disk``), else None."""
        return None
