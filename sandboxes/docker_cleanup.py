"""Crash cleanup for the docker backend: remove containers of runs that are gone."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from sandboxes.docker_client import _docker_module, _get_client, _in_thread
from sandboxes.processes import pid_alive

LABEL_RUN = "agentorch.run"
LABEL_AGENT = "agentorch.agent"
LABEL_PID = "agentorch.pid"
LABEL_PID_START = "agentorch.pid_start"
LABEL_HOST = "agentorch.host"


def _owner_alive(labels: dict[str, str]) -> bool | None:
    """Whether the process that created a container still runs; None if we cannot tell."""
    pid = labels.get(LABEL_PID)
    if not pid or labels.get(LABEL_HOST) != socket.gethostname():
        return None
    return pid_alive(pid, labels.get(LABEL_PID_START))


async def cleanup_stale_containers(
    is_run_alive: Callable[[str], bool] | None = None,
    is_ours: Callable[[str], bool] | None = None,
) -> list[str]:
    """Remove our containers whose run is no longer alive; return their short ids.

    Only containers labelled ``agentorch.run`` are considered.  A run is alive
    when ``is_run_alive(run_id)`` says so (the engine's store) or when the pid
    in the container's ``agentorch.pid`` label still runs on this host.  A
    container made on another host (shared daemon) is always kept, since its
    owner cannot be judged from here; one without pid labels goes only on the
    word of ``is_run_alive``.  With ``is_ours``, only runs it knows (recorded in this
    engine's database) are judged: another project's crashed run keeps its containers
    until that project starts again.  Both are called on the event loop.
    """
    client = _get_client()

    def listing():
        return client.api.containers(all=True, filters={"label": LABEL_RUN})

    containers = await _in_thread(listing)
    stale: list[str] = []
    for info in containers:
        labels = info.get("Labels") or {}
        run_id = labels.get(LABEL_RUN)
        if not run_id or (is_ours is not None and not is_ours(run_id)):
            continue
        if is_run_alive is not None and is_run_alive(run_id):
            continue
        host = labels.get(LABEL_HOST)
        if host and host != socket.gethostname():
            continue  # another machine's run: cannot judge its pid, never remove
        owner = _owner_alive(labels)
        if owner is None:
            if is_run_alive is None:
                continue  # no pid label and no store: cannot judge, never remove
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

