"""Text that can always be encoded: lone surrogates and undecodable bytes become U+FFFD.

Every string that reaches the engine from outside (a headless line, a model's
tool arguments or text, a tool's result, command output) passes through here
before anything encodes it: one bad string must never stop the store, the
headless printer or an agent.  JSON's ``"\\ud800"`` escape and Python's
``surrogateescape`` both produce lone surrogates; UTF-8 cannot hold them.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def clean_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean_value(v) for v in value)
    return value


def has_surrogates(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def decode(data: bytes) -> str:
    """Bytes from outside as text: invalid UTF-8 becomes U+FFFD."""
    return data.decode("utf-8", "replace")
