"""Runs a crash left behind: marked crashed, their containers removed at the next start."""

from __future__ import annotations

import socket
from collections.abc import Callable

from memory.run_lock import held_runs
from memory.store import Store
from sandboxes import SandboxError
from sandboxes.processes import pid_alive


async def cleanup_stale(store: Store, err: Callable[[str], None]) -> None:
    """Remove containers of dead runs; mark dead runs as crashed in the store."""
    rows = await store.query("SELECT id, pid, host FROM runs WHERE status='running'")
    host = socket.gethostname()
    for row in rows:
        if row["host"] == host and not pid_alive(row["pid"]):
            store.execute("UPDATE runs SET status='crashed' WHERE id=?", (row["id"],))
    await store.flush()
    from docker.errors import DockerException

    from sandboxes.docker import cleanup_stale_containers
    from sandboxes.docker_client import docker_answers

    if not await docker_answers():
        return
    live = {r["id"] for r in await store.query("SELECT id FROM runs WHERE status='running'")}
    live |= held_runs(store.path)  # a resume of it is starting in another process
    known = {r["id"] for r in await store.query("SELECT id FROM runs")}
    try:
        # only this database's runs: another project's (or test's) crashed run is its own
        # engine's to clean at its next start, when it can tell the person
        removed = await cleanup_stale_containers(lambda run_id: run_id in live,
                                                 lambda run_id: run_id in known)
    except SandboxError as exc:
        err(f"could not clean up stale containers: {exc}")
        return
    except DockerException as exc:  # e.g. 409: another process removes the same container
        err(f"could not clean up stale containers: {str(exc).splitlines()[0][:200]}")
        return
    if removed:
        err(f"removed {len(removed)} container(s) left by crashed runs")
