"""JSON command lines, as headless stdin and the control socket read them.

A line is bytes up to a newline: invalid UTF-8 becomes U+FFFD, a line longer than
``MAX_LINE_BYTES`` is refused (and skipped to its end, never held in memory), and a
line that is not a command (bad JSON, too deep, a number of 5,000 digits) is a
ValueError with one sentence.
"""

from __future__ import annotations

import json
from typing import Any

from engine.numbers import NumberError, parse_command
from memory.text_safety import clean_value, decode

#: a longer line is refused (and skipped to its end), never held in memory
MAX_LINE_BYTES = 1024 * 1024
TOO_LONG = object()  # marks a line over MAX_LINE_BYTES
TOO_LONG_TEXT = f"command line longer than {MAX_LINE_BYTES} bytes refused"


class LineSplitter:
    """Bytes in, lines out (str, or TOO_LONG); memory stays under MAX_LINE_BYTES."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._pending = bytearray()
        self._skipping = False  # inside a line that was too long: drop it to its end

    def feed(self, chunk: bytes) -> list[Any]:
        out: list[Any] = []
        pending = self._pending
        pending += chunk
        while (nl := pending.find(b"\n")) >= 0:
            line = bytes(pending[:nl + 1])
            del pending[:nl + 1]
            if self._skipping:
                self._skipping = False
            elif len(line) > self.limit:
                out.append(TOO_LONG)
            else:
                out.append(decode(line))
        if len(pending) > self.limit:
            if not self._skipping:
                out.append(TOO_LONG)
            self._skipping = True
            pending.clear()
        return out

    def end(self) -> list[Any]:
        """What is left once the input ended (a last line without a newline)."""
        rest = bytes(self._pending)
        self._pending.clear()
        return [decode(rest)] if rest and not self._skipping else []


def read_command(line: str) -> Any:
    """A command line as a value; ValueError with one sentence when it is not one."""
    try:
        return clean_value(parse_command(line))
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed command line (not JSON: {exc.msg})") from None
    except RecursionError:
        raise ValueError("malformed command line (nested too deeply)") from None
    except NumberError:
        raise
    except ValueError as exc:
        raise ValueError(f"malformed command line ({exc})") from None
