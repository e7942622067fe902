"""Runs a crash left behind: marked crashed, their containers removed at the next start;
CLI agents' folders of dead engines and of runs that can no longer be resumed swept."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

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
    await _sweep_cli_dirs(store)
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


async def _sweep_cli_dirs(store: Store) -> None:
    """CLI agents' ctl folders of dead engines, and the CLI state (sessions) of this
    database's runs that ended: a stopped or crashed run keeps its sessions for
    ``--resume``; ``clean`` removes a run's along with the rest."""
    from engine.brains.cli_dirs import sweep_dead_ctl, sweep_ended_state
    from engine.workspace_clean import RESUMABLE

    sweep_dead_ctl()
    root = Path(str(store.path)).resolve().parent
    if not (root / "cli").is_dir():
        return
    resumable = sorted(RESUMABLE)
    rows = await store.query(f"SELECT id FROM runs WHERE status NOT IN ({','.join('?' * len(resumable))})",
                             resumable)
    sweep_ended_state(root, (r["id"] for r in rows))
