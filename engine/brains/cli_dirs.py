"""A CLI agent's directories: the engine's files for it, and its own state.

* ``ctl`` (host: ``<private socket dir>/cli-<pid>-<hash>``, container:
  ``/agentorch/ctl``, read-only): what the engine writes for the CLI (its settings, its
  MCP config) and the model socket.  Short, because a Unix socket path is at most 108
  bytes.  Made afresh by every engine process (the pid in its name), removed when the
  agent ends, and swept at the next start when the engine was killed (kill -9).
* ``state`` (host: ``<database dir>/cli/<run>/<agent>``, container: ``/agentorch/state``,
  writable by the agent): the CLI's own configuration and sessions
  (``CLAUDE_CONFIG_DIR``, ``CODEX_HOME``), outside the workspace, kept across container
  restarts and crashes so its session can be resumed; swept once its run can no longer
  be resumed (it ended, or ``clean`` removed it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.brains.base import BrainError
from engine.config import AgentConfig, TeamConfig
from engine.service.agent_socket import socket_answers
from engine.service.socket_dir import SocketDirError, default_socket_dir, private_dir
from sandboxes.processes import pid_alive

CTL_MOUNT = "/agentorch/ctl"
STATE_MOUNT = "/agentorch/state"
#: a Codex agent's model socket in ctl, and the in-container port the relay serves it on
#: (beside the egress proxy's 3128 and the MCP view's 3129): Codex speaks only TCP
MODEL_SOCKET = "model.sock"
MODEL_PORT = 3130


@dataclass(frozen=True)
class CliPaths:
    """One CLI agent's directories on the host, and as the CLI sees them."""

    ctl: Path  # written by the engine: settings, MCP config, the model socket
    state: Path  # the CLI's config and sessions (CLAUDE_CONFIG_DIR / CODEX_HOME)
    in_container: bool

    @property
    def ctl_seen(self) -> str:
        return CTL_MOUNT if self.in_container else str(self.ctl)

    @property
    def state_seen(self) -> str:
        return STATE_MOUNT if self.in_container else str(self.state)


def cli_paths(run_id: str, agent_id: str, state_root: Path, backend: str) -> CliPaths:
    """The agent's directories: ctl short (a Unix socket path is at most 108 bytes) in the
    user's private socket directory, state beside the run's database (it survives the
    container and the process)."""
    digest = hashlib.sha256(f"{state_root}\0{run_id}\0{agent_id}".encode()).hexdigest()[:16]
    ctl = default_socket_dir() / f"cli-{os.getpid()}-{digest}"
    return CliPaths(ctl, state_root / "cli" / run_id / agent_id, backend == "docker")


def cli_binds(agent: AgentConfig, run_id: str, state_root: Path,
              backend: str) -> tuple[tuple[str, str, bool], ...]:
    """The sandbox binds of a CLI agent (host, container path, read-only); () for others.

    Creates both directories: ctl fresh, state kept from an earlier start of the run."""
    if not agent.is_cli:
        return ()
    paths = cli_paths(run_id, agent.id, state_root, backend)
    prepare_dirs(paths)
    if backend != "docker":
        return ()
    return ((str(paths.ctl), CTL_MOUNT, True), (str(paths.state), STATE_MOUNT, False))


def cli_relays(agent: AgentConfig, team: TeamConfig, backend: str) -> tuple[tuple[int, str], ...]:
    """The relays a CLI agent's container needs: Codex's model socket on MODEL_PORT
    (unless the key is passed in with pass_env, and Codex talks to the API itself), and
    the app server's connection on APP_PORT when its approvals come to the queue."""
    if agent.brain != "codex" or backend != "docker":
        return ()
    from engine.brains.codex_rpc import APP_PORT, APP_SOCKET

    app = ((APP_PORT, f"{CTL_MOUNT}/{APP_SOCKET}"),) if agent.command_approval != "never" else ()
    if team.openai.api_key_env in (agent.pass_env or []):
        return app
    return ((MODEL_PORT, f"{CTL_MOUNT}/{MODEL_SOCKET}"), *app)


def prepare_dirs(paths: CliPaths) -> None:
    """ctl inside the user's private (0700, checked) socket directory: only the bound
    directory itself is seen in a container, so the sandbox user needs no way through
    its parent; the model socket in it is the sandbox user's alone (0600)."""
    try:
        private_dir(paths.ctl.parent)
    except SocketDirError as exc:
        raise BrainError(str(exc)) from None
    paths.ctl.mkdir(mode=0o755, exist_ok=True)
    os.chmod(paths.ctl, 0o755)
    paths.state.mkdir(parents=True, exist_ok=True)


def sweep_dead_ctl(base: Path | None = None) -> int:
    """Remove the ctl folders of engines that died (kill -9): their sockets lead nowhere,
    and a resumed run makes its own.  ``cli-PID-HASH`` goes when that pid is gone (a
    reused pid only leaves it for later); an older ``cli-HASH`` when none of its sockets
    answers.  Returns how many were removed."""
    base = base or default_socket_dir()
    removed = 0
    for path in base.glob("cli-*") if base.is_dir() else ():
        if path.is_symlink() or not path.is_dir():
            continue
        parts = path.name.split("-")
        if len(parts) == 3 and parts[1].isdigit():
            if pid_alive(int(parts[1])):
                continue
        elif len(parts) != 2 or any(socket_answers(s) for s in path.glob("*.sock")):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def sweep_ended_state(state_root: Path, ended: Iterable[str]) -> int:
    """Remove the CLI state (sessions) of runs of this database that ended and cannot
    be resumed; runs it does not know are left alone.  Returns how many were removed."""
    removed = 0
    for run_id in ended:
        path = state_root / "cli" / run_id
        if "/" in run_id or run_id in ("", ".", "..") or path.is_symlink() or not path.is_dir():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed
