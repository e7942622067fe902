"""One writer per run: an exclusive OS lock on a per-run lock file.

A live run and a resume each hold ``<db>.locks/<run id>.lock`` with ``flock``
(never a lock on the SQLite file itself: a second descriptor on it would break
SQLite's own locks).  The holder writes its pid, host and start time into the
file, so a refused resume can say who holds the run.  The kernel releases the
lock when the process dies, even by kill -9: a crashed run is free again.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path


class RunLocked(Exception):
    """Another process holds the run (one sentence naming it)."""


def lock_path(db: str | Path, run_id: str) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".locks") / f"{run_id}.lock"


class RunLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, db: str | Path, run_id: str) -> RunLock:
        path = lock_path(db, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunLocked(f"run {run_id} is already running in {holder}; stop that one "
                            "first (or wait for it to end)") from None
        except BaseException:
            os.close(fd)
            raise
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.time()}).encode()
        os.pwrite(fd, info.ljust(256), 0)  # one write, no empty moment (JSON allows the padding)
        os.ftruncate(fd, max(len(info), 256))
        return cls(path, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def held_runs(db: str | Path) -> set[str]:
    """The ids of the runs whose lock some process holds now."""
    held = set()
    for path in lock_path(db, "x").parent.glob("*.lock"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held.add(path.stem)
        except OSError:
            pass
        finally:
            os.close(fd)
    return held


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote.  The holder writes right after it locks:
    read again for a moment while the file is empty, unreadable or still names the
    process that held it before (a killed run's pid)."""
    from sandboxes.processes import pid_alive

    for _ in range(20):
        try:
            info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            if info["host"] != socket.gethostname() or pid_alive(info["pid"]):
                started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"]))
                return f"process {info['pid']} on {info['host']} (since {started})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.025)
    return "another process"
