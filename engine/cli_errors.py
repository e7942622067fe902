"""How the command line reports: its exit codes and its one-line errors on stderr."""

from __future__ import annotations

import sys

from engine.control_chars import visible_controls

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def err(text: str) -> None:
    print(f"agentorch: {visible_controls(text)}", file=sys.stderr)
