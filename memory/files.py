"""Per-agent memory files: markdown the agent reads at start and appends to."""

from __future__ import annotations

import time
from pathlib import Path

MAX_MEMORY_CHARS = 200_000


def read_memory(path: Path | None) -> str:
    if path is None or not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    if len(text) > MAX_MEMORY_CHARS:  # keep the newest part
        text = "[... older memory omitted ...]\n" + text[-MAX_MEMORY_CHARS:]
    return text


def append_memory(path: Path, text: str, author: str, when: float | None = None) -> str:
    """Append one dated entry; returns the entry written."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when or time.time()))
    entry = f"\n## {stamp} ({author})\n\n{text.strip()}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(entry)
    return entry
