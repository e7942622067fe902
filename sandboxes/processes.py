"""Is a process still alive?  Used to judge whether a run (or its containers) is orphaned."""

from __future__ import annotations

import os


def proc_start_time(pid: int) -> str | None:
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
        current = proc_start_time(pid)
        if current is not None and current != start_time:
            return False  # the pid was reused by another process
    return True
