"""The in-container relay: 127.0.0.1 ports forwarded to the engine's Unix sockets.

A container keeps ``network_mode=none``.  The engine gives each agent a directory of
Unix sockets (its egress proxy door, later its MCP socket) outside the workspace,
bound read-only at :data:`SOCKET_DIR`; the relay (``relay.c``, static, built and cached
like the supervisor) listens on ``127.0.0.1:PORT`` inside the container and forwards
each connection to ``SOCKET_DIR/NAME``.  It runs as its own user (:func:`relay_uid`),
so neither the sandbox user nor the supervisor's idle sweep can kill it.

Reuse: put ``(port, socket name)`` pairs in ``SandboxSpec.relays`` and the socket in
``SandboxSpec.service_dir``; the Docker backend starts one relay for all of them at
every container start.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sandboxes.supervisor import SupervisorUnavailable, build_static

SOURCE = Path(__file__).with_name("relay.c")
#: where the host directory of the agent's sockets is bound in the container (read-only)
SOCKET_DIR = "/run/agentorch"
#: the relay binary inside the container (a root-owned directory on /tmp)
CONTAINER_PATH = "/tmp/.agentorch/relay"
#: the egress proxy's port inside every container
PROXY_PORT = 3128
#: the proxy door's socket name in the agent's socket directory
PROXY_SOCKET = "proxy.sock"
_RELAY_UIDS = (65534, 65533)


class RelayUnavailable(Exception):
    """The relay cannot be built or started; the message says why and what to do."""


def relay_uid(sandbox_uid: int) -> int:
    """The relay's uid: `nobody`, or the next one when the sandbox user is `nobody`."""
    return next(uid for uid in _RELAY_UIDS if uid != sandbox_uid)


@cache
def relay_path() -> Path:
    try:
        return build_static(SOURCE, "relay", "the sandbox relay")
    except SupervisorUnavailable as exc:
        raise RelayUnavailable(str(exc)) from None


def relay_argv(relays: tuple[tuple[int, str], ...]) -> list[str]:
    """The relay's command line: a socket named by an absolute path is taken as it is
    (another read-only mount of the engine's, e.g. a CLI agent's /agentorch/ctl)."""
    return [CONTAINER_PATH, *(f"{port}:{name if name.startswith('/') else f'{SOCKET_DIR}/{name}'}"
                              for port, name in relays)]


def proxy_env(port: int = PROXY_PORT) -> dict[str, str]:
    """What the sandbox user's commands get so HTTP clients use the proxy."""
    url = f"http://127.0.0.1:{port}"
    return {"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url,
            "NO_PROXY": "", "no_proxy": ""}
