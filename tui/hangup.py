"""SIGHUP (the terminal closed, e.g. `tmux kill-session`): stop the run, then leave.

The run is stopped as by `q` (agents cancelled, sandboxes removed, the run
recorded as stopped and resumable).  Leaving the app then writes to a terminal
that is gone, and Textual's driver can block there forever; a watchdog thread
ends the process a few seconds after the run is safe.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

#: the status of a process ended by a hang-up
EXIT_HANGUP = 128 + signal.SIGHUP
#: once the run is stopped, how long the app may take to leave the dead terminal
GRACE = 3.0
#: the whole stop (containers removed) at most
LIMIT = 60.0


def exit_after(seconds: float, code: int = EXIT_HANGUP) -> None:
    """End the process after ``seconds`` whatever its event loop is blocked on."""
    def later() -> None:
        time.sleep(seconds)
        os._exit(code)

    threading.Thread(target=later, name="hangup-watchdog", daemon=True).start()


async def hang_up(app: Any) -> None:
    exit_after(LIMIT)
    await app.shutdown_engine()
    exit_after(GRACE)
    app.exit(EXIT_HANGUP)
