"""Each agent's own door to the engine: a Unix socket speaking MCP (streamable HTTP).

The socket lives in the agent's service directory, outside every workspace: the
network gate's folder for the agent when it has one (so the egress proxy's door and
this socket share the one read-only bind mount at ``/run/agentorch``), else a folder
of ours under the private (0700) control socket directory.  The Docker backend binds
that folder read-only into the agent's container and nowhere else; the control socket
is never in it.  Beside the socket, ``shared_context.md`` holds the team's shared
context, rewritten (atomically) at every change: a read-only file for CLI agents.

Identity comes from the socket a request arrived on (uvicorn puts the listening
socket's path in the ASGI scope), never from anything the client sends: every request
is served as the agent that socket belongs to, with that agent's tools and rules
(engine/service/mcp_agent.py).  One uvicorn server serves every agent's socket of
the run; the SDK's session manager runs stateless, so no session can cross sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine import shared_context
from engine.service.socket_dir import MAX_SOCKET_PATH, SocketDirError, default_socket_dir, private_dir
from sandboxes.base import SandboxSpec

if TYPE_CHECKING:
    from engine.run import Engine

#: the socket's and the shared context's names in the agent's service directory
MCP_SOCKET = "mcp.sock"
CONTEXT_FILE = "shared_context.md"
#: where the service directory is inside a container (sandboxes.relay.SOCKET_DIR)
CONTAINER_DIR = "/run/agentorch"
#: the MCP endpoint's path (the URL is http://<anything>/mcp over the socket)
MCP_PATH = "/mcp"
#: the in-container relay's port for the MCP socket (beside the proxy's 3128), for
#: clients that speak HTTP only over TCP: add ``(MCP_PORT, MCP_SOCKET)`` to the spec's relays
MCP_PORT = 3129
#: the environment variable that tells the agent's commands where its socket is
ENV_SOCKET = "AGENTORCH_MCP_SOCKET"
#: ... and its URL over the relay, when it has one
ENV_URL = "AGENTORCH_MCP_URL"
#: ... and the shared context's file
ENV_CONTEXT = "AGENTORCH_SHARED_CONTEXT"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def folder_name(agent_id: str) -> str:
    """A short, safe directory name for an agent (its id when it is one)."""
    if _SAFE_NAME.fullmatch(agent_id) and agent_id not in (".", ".."):
        return agent_id
    return "a-" + hashlib.sha256(agent_id.encode()).hexdigest()[:16]


class AgentViews:
    """The agents' MCP sockets of one run (set on ``engine.agent_views`` by the CLI)."""

    def __init__(self, engine: Engine, directory: Path | None = None,
                 relayed: Callable[[str], bool] | None = None) -> None:
        self.engine = engine
        self.directory = directory
        #: agents whose container also gets the MCP socket on 127.0.0.1:MCP_PORT (for
        #: clients that speak HTTP over TCP only, like Claude Code); default: CLI brains
        self.relayed = relayed or self._cli_brain
        self.run_dir: Path | None = None
        #: socket path -> agent id: who a request is from
        self.owners: dict[str, str] = {}
        self.sockets: dict[str, socket.socket] = {}  # agent id -> listening socket
        self.folders: dict[str, Path] = {}
        self.in_flight: dict[str, int] = {}  # agent id -> requests open on its socket
        self._server: Any = None
        #: the servers: one for the team's agents, one more per agent created at run time
        self._serving: list[asyncio.Task] = []
        self._closed = False
        self._problem_said = False
        shared_context.of(engine).listeners.append(self._write_context)

    # -- per agent ------------------------------------------------------------------------
    def apply(self, spec: SandboxSpec) -> SandboxSpec:
        """``spec`` with the agent's socket in its service directory (created here)."""
        try:
            folder = spec.service_dir or self._own_folder(spec.agent_id)
            path = folder / MCP_SOCKET
            if len(os.fsencode(path)) > MAX_SOCKET_PATH:
                raise SocketDirError(f"the socket path {path} is longer than {MAX_SOCKET_PATH} "
                                     "bytes; set XDG_RUNTIME_DIR to a shorter directory")
            sock = self.sockets[spec.agent_id] = _bind(path)
            _write_file(folder / CONTEXT_FILE, self._context_text())
        except (SocketDirError, OSError) as exc:
            self._say_problem(str(exc) if isinstance(exc, SocketDirError) else
                              f"{exc.strerror or exc}")
            return spec
        self.owners[str(path)] = spec.agent_id
        self.folders[spec.agent_id] = folder
        if self._serving:  # an agent created at run time (the workflow): served at once
            self._serve([sock])
        if spec.backend != "docker":
            return replace(spec, env={**spec.env, ENV_SOCKET: str(path),
                                      ENV_CONTEXT: str(folder / CONTEXT_FILE)})
        env = {**spec.env, ENV_SOCKET: f"{CONTAINER_DIR}/{MCP_SOCKET}",
               ENV_CONTEXT: f"{CONTAINER_DIR}/{CONTEXT_FILE}"}
        relays = spec.relays
        if self.relayed(spec.agent_id):
            relays = (*relays, (MCP_PORT, MCP_SOCKET))
            env[ENV_URL] = f"http://127.0.0.1:{MCP_PORT}{MCP_PATH}"
        return replace(spec, service_dir=folder, env=env, relays=relays)

    def _cli_brain(self, agent_id: str) -> bool:
        agent = self.engine.team.agent(agent_id)
        return getattr(agent, "brain", None) not in (None, "claude", "scripted")

    def socket_of(self, agent_id: str) -> Path | None:
        folder = self.folders.get(agent_id)
        return folder / MCP_SOCKET if folder is not None else None

    def _own_folder(self, agent_id: str) -> Path:
        if self.run_dir is None:
            base = private_dir(self.directory or default_socket_dir())
            # the owner's pid in the name: another engine's sweep keeps it while we live,
            # even before its first socket exists (a socket probe alone raced that)
            self.run_dir = base / f"{self.engine.run_id}.{os.getpid()}.agents"
            sweep_dead_runs(base, keep=self.run_dir)
            self.run_dir.mkdir(mode=0o700, exist_ok=True)
        folder = self.run_dir / folder_name(agent_id)
        folder.mkdir(mode=0o755, exist_ok=True)
        folder.chmod(0o755)  # the container's user reaches it through the bind mount only
        return folder

    def _say_problem(self, text: str) -> None:
        if self._problem_said:
            return
        self._problem_said = True
        asyncio.get_running_loop().create_task(self.engine.emit(
            ev.NOTICE, level="warning", text=f"no MCP socket for the agents ({text}): CLI "
                                             "agents cannot reach their team tools"))

    # -- the shared context file ----------------------------------------------------------
    def _context_text(self) -> str:
        current = shared_context.of(self.engine).current
        if not current.version:
            return ""
        return f"<!-- the team's shared context, version {current.version}, by {current.by} -->\n" \
               f"{current.text}\n"

    async def _write_context(self, _version: shared_context.Version) -> None:
        text = self._context_text()
        for folder in list(self.folders.values()):
            try:
                await asyncio.to_thread(_write_file, folder / CONTEXT_FILE, text)
            except OSError:  # its directory is gone (the run ends): the tools still answer
                pass

    # -- serving --------------------------------------------------------------------------
    async def start(self) -> None:
        """Serve every socket bound so far (call once the agents exist)."""
        if not self.sockets or self._serving or self._closed:
            return
        await shared_context.of(self.engine).load()
        await self._write_context(shared_context.of(self.engine).current)
        self._serve(list(self.sockets.values()))

    def _serve(self, sockets: list[socket.socket]) -> None:
        from engine.service.mcp_agent import serve_agent_sockets

        self._serving.append(asyncio.get_running_loop().create_task(
            serve_agent_sockets(self, sockets), name="agent-mcp"))

    async def close(self) -> None:
        self._closed = True
        serving, self._serving = self._serving, []
        for task in serving:
            task.cancel()
        await asyncio.gather(*serving, return_exceptions=True)
        for sock in self.sockets.values():
            with contextlib.suppress(OSError):
                sock.close()
        for path in self.owners:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.sockets.clear()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def sweep_dead_runs(base: Path, keep: Path) -> None:
    """Remove the agents' directories of runs whose process died.

    ``RUN.PID.agents``: removed when that pid is gone (a reused pid only leaves it for
    later).  Older names without a pid: removed when none of their sockets answers."""
    for other in base.glob("*.agents"):
        if other == keep or other.is_symlink() or not other.is_dir():
            continue
        pid = other.name[:-len(".agents")].rpartition(".")[2]
        if pid.isdigit():
            if _alive(int(pid)):
                continue
        elif any(socket_answers(sock) for sock in other.glob(f"*/{MCP_SOCKET}")):
            continue
        shutil.rmtree(other, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def socket_answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.setblocking(False)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True  # busy (EAGAIN) or not ours to judge: keep it
    finally:
        probe.close()
    return True


def _bind(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a stale socket of a crashed leg of this run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o666)  # any user inside the agent's container; nobody else reaches it
        sock.listen(64)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _write_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.new")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
