"""Per-agent memory files: markdown the agent reads at start and appends to.

The engine writes each entry: a header with the time and the author, then the
agent's text quoted line by line (``> ``), so no text of the agent can pose as
a header or as someone else's entry.  Memory and rules files are opened through
:mod:`sandboxes.hostfs`: a symlink planted at the file or its folder is refused.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sandboxes import hostfs

MAX_MEMORY_CHARS = 200_000
#: Bytes of one update_memory entry (the agent's text, UTF-8).
MAX_ENTRY_BYTES = 16 * 1024
#: Bytes read at most from a rules file.
MAX_RULES_BYTES = 1024 * 1024


class MemoryEntryError(ValueError):
    """An entry the engine will not write (one clear sentence for the agent)."""


def _read_tail(path: Path, limit: int) -> tuple[bytes, bool]:
    """The last ``limit`` bytes of a host file, and whether older bytes were left out."""
    fd = hostfs.open_host_file(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fd).st_size
        if size > limit:
            fh.seek(size - limit)
        return fh.read(limit), size > limit


def read_memory(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        data, cut = _read_tail(path, MAX_MEMORY_CHARS * 4)
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if cut or len(text) > MAX_MEMORY_CHARS:  # keep the newest part
        text = "[... older memory omitted ...]\n" + text[-MAX_MEMORY_CHARS:]
    return text


def read_rules(path: Path | None) -> str:
    """A rules file's text ("" without one); never through a symlink."""
    if path is None:
        return ""
    try:
        fd = hostfs.open_host_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return ""
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_RULES_BYTES).decode("utf-8", errors="replace")


def format_entry(text: str, author: str, when: float | None = None) -> str:
    """One entry: the engine's header, then the agent's text quoted line by line."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_ENTRY_BYTES:
        raise MemoryEntryError(f"a memory entry holds at most {MAX_ENTRY_BYTES} bytes, this one "
                               f"has {size}; keep the essentials and write it shorter")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when or time.time()))
    lines = text.strip().splitlines() or [""]
    quoted = "\n".join(f"> {line}".rstrip() for line in lines)
    return f"\n## {stamp} ({author})\n\n{quoted}\n"


def append_memory(path: Path, text: str, author: str, when: float | None = None) -> str:
    """Append one dated entry; returns the entry written."""
    entry = format_entry(text, author, when)
    fd = hostfs.open_host_file(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, make_parents=True)
    with os.fdopen(fd, "wb") as fh:
        fh.write(entry.encode("utf-8", errors="replace"))
    return entry
