"""Which commands count as risky (for `approval: risky`).

The list is deliberately readable: each pattern has the reason shown to the
person in the command-approval dialog.
"""

from __future__ import annotations

import re

RISKY_PATTERNS: list[tuple[str, str]] = [
    (r"\brm\s+(-[a-zA-Z]*[rRf]|--recursive|--force)", "deletes files recursively or by force"),
    (r"\b(rm|rmdir|shred|unlink)\b", "deletes files"),
    (r"\bgit\s+(push|reset\s+--hard|clean|checkout\s+--|branch\s+-D)", "rewrites or publishes git history"),
    (r"\b(curl|wget|nc|ncat|ssh|scp|rsync|ftp|telnet)\b", "uses the network"),
    (r"\b(pip|pip3|npm|yarn|pnpm|apt|apt-get|apk|dnf|yum|gem|cargo)\s+(install|add|i)\b",
     "installs packages"),
    (r"\b(sudo|su|doas|chown|chmod\s+[0-7]*[4-7][0-7]{2,3}|setcap|mount)\b", "changes privileges or ownership"),
    (r"\b(mkfs|dd|fdisk|parted)\b", "writes to disks"),
    (r"\b(kill|pkill|killall|reboot|shutdown)\b", "stops processes or the machine"),
    (r">\s*/(etc|usr|bin|boot|dev)/", "writes to system paths"),
    (r"\|\s*(sh|bash|zsh)\b", "pipes text into a shell"),
]
_COMPILED = [(re.compile(p), reason) for p, reason in RISKY_PATTERNS]


def risk_of(command: str) -> str | None:
    """The reason ``command`` is risky, or None."""
    for pattern, reason in _COMPILED:
        if pattern.search(command):
            return reason
    return None
