"""Getting a container ready: its workspace on the host (a volume on a remote daemon:
sandboxes/remote_workspace.py), the fixed environment of its commands, and the
supervisor installed inside it."""

from __future__ import annotations

import os
from pathlib import Path

from sandboxes.base import SandboxError
from sandboxes.docker_exec import exit_code_of, send_stdin
from sandboxes.supervisor import CONTAINER_PATH, SupervisorUnavailable, supervisor_binary

#: Run as root in the container once after it starts: /tmp writable for the sandbox
#: user whatever the image's mode (dockerd 20.10 ignores the tmpfs mode option), and
#: the supervisor (its $2 bytes read from stdin: no end of input needed, which a TLS
#: connection cannot send) in a root-owned directory the agent cannot change.
_PREPARE = r"""chmod 1777 /tmp || exit 1
d=${1%/*}
mkdir -p "$d" && chmod 0755 "$d" || exit 1
head -c "$2" >"$1.new" && chmod 0755 "$1.new" && mv -f "$1.new" "$1"
"""

_BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def prepare_workspace(workspace: Path, fallback_uid: int, fallback_gid: int) -> tuple[int, int]:
    """Create the workspace if needed; the uid:gid commands run as.

    Commands run as the workspace owner, or as the fallback user when root owns it.
    As root on the host we then give the workspace directory itself (never anything
    inside it, never by path) to that user, through a descriptor opened without
    following symlinks, so that the sandbox user can write it.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise SandboxError(f"workspace {workspace} is not a plain directory ({exc.strerror}); "
                           "point sandbox_path at a directory") from None
    try:
        st = os.fstat(fd)
        if st.st_uid != 0:
            return st.st_uid, st.st_gid
        if os.geteuid() == 0:
            os.fchown(fd, fallback_uid, fallback_gid)
        return fallback_uid, fallback_gid
    finally:
        os.close(fd)


def command_env(api, image: str, env: dict[str, str]) -> dict[str, str]:
    """The fixed environment every command starts from: the image's, then ours."""
    try:
        image_env = api.inspect_image(image).get("Config", {}).get("Env") or []
    except Exception:  # noqa: BLE001 - the image check reports a missing image
        image_env = []
    base = {"PATH": _BASE_PATH}
    for item in image_env:
        key, _, value = item.partition("=")
        base[key] = value
    return {**base, **env}


def install_supervisor(api, container_id: str, image: str) -> str | None:
    """As root in the container: make /tmp writable and copy the supervisor in.  Returns
    why commands must use one exec each instead, or None."""
    problem = None
    try:
        binary = supervisor_binary()
    except SupervisorUnavailable as exc:
        problem, binary = str(exc), b""
    exec_id = api.exec_create(container_id, ["sh", "-c", _PREPARE, "agentorch-prepare", CONTAINER_PATH,
                                               str(len(binary))],
                              stdin=True, stdout=True, stderr=True, user="0:0", workdir="/")["Id"]
    try:
        send_stdin(api, exec_id, binary)
    except OSError as exc:
        return problem or f"could not install the supervisor ({exc})"
    code = exit_code_of(api, exec_id)
    if code != 0:
        return problem or (f"could not install the supervisor in image {image} "
                           f"(exit {code}; it needs sh, chmod, mkdir, cat and mv)")
    return problem


def start_relay(api, container_id: str, relays: tuple[tuple[int, str], ...], uid: int) -> None:
    """Copy the relay in (as root) and start it as its own user; it has bound every
    port when this returns.  Raises SandboxError saying why not."""
    from sandboxes.relay import CONTAINER_PATH as RELAY_PATH
    from sandboxes.relay import RelayUnavailable, relay_argv, relay_path

    try:
        binary = relay_path().read_bytes()
    except RelayUnavailable as exc:
        raise SandboxError(f"the network relay is needed for network rules: {exc}") from None
    exec_id = api.exec_create(container_id, ["sh", "-c", _PREPARE, "agentorch-prepare", RELAY_PATH,
                                               str(len(binary))],
                              stdin=True, stdout=True, stderr=True, user="0:0", workdir="/")["Id"]
    send_stdin(api, exec_id, binary)
    if exit_code_of(api, exec_id) != 0:
        raise SandboxError("could not copy the network relay into the container "
                           "(it needs sh, chmod, mkdir, cat and mv)")
    exec_id = api.exec_create(container_id, relay_argv(relays), stdout=True, stderr=True,
                              user=f"{uid}:{uid}", workdir="/")["Id"]
    out = api.exec_start(exec_id)
    code = exit_code_of(api, exec_id)
    if code != 0:
        text = out.decode("utf-8", "replace").strip()[-300:] if isinstance(out, bytes) else ""
        raise SandboxError(f"the network relay did not start in the container (exit {code}: {text})")
