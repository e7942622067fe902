"""A closed stdout (`agentorch-tui runs | head -1`): end quietly, as Unix tools do."""

from __future__ import annotations

import os
import sys

#: the exit status of a process whose stdout reader went away (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 141


def stdout_gone() -> None:
    """Point stdout at /dev/null, so that nothing more (not even the interpreter's
    last flush) fails on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
