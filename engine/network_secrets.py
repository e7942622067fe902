"""Values that must never be recorded: secrets the proxy injects, and the values of
`pass_env:` variables (which do enter the sandbox, so a command may print them).

Every event passes through :meth:`Redactor.clean` before it is stored or shown, so
the event log, the console and `export` carry `[redacted $NAME]` instead.  Short
values (under :data:`MIN_CHARS`) are not hunted for: `1` or `true` would redact half
the log.  A value split across two output chunks of one command can show in part in
the live console; the command's recorded result has it whole, and redacted.
"""

from __future__ import annotations

import json
import os
from typing import Any

from engine.config import TeamConfig

MIN_CHARS = 6


class Redactor:
    def __init__(self) -> None:
        self._marks: dict[str, str] = {}  # value as it appears in JSON -> its mark

    @classmethod
    def for_team(cls, team: TeamConfig) -> Redactor:
        redactor = cls()
        for agent in team.agents:
            for name in agent.pass_env or []:
                redactor.add(f"${name}", os.environ.get(name, ""))
        return redactor

    def add(self, name: str, value: str) -> None:
        if len(value) < MIN_CHARS:
            return
        encoded = json.dumps(value, ensure_ascii=False)[1:-1]
        self._marks.setdefault(encoded, f"[redacted {name}]")

    def __bool__(self) -> bool:
        return bool(self._marks)

    def clean(self, data: dict[str, Any], encoded: str) -> tuple[dict[str, Any], str]:
        """The event's data and its JSON with every known value replaced by its mark."""
        hits = [value for value in self._marks if value in encoded]
        if not hits:
            return data, encoded
        for value in sorted(hits, key=len, reverse=True):
            encoded = encoded.replace(value, self._marks[value])
        return json.loads(encoded), encoded
