"""Control characters made visible: text from agents, models and commands is data.

Such text must never drive the terminal it is shown on (retitle it, clear it, switch
its character set) nor hide what it says (bidi overrides, zero-width characters).
`visible_controls` replaces every control character with a visible placeholder: C0
controls by their Unicode control pictures (ESC -> ␛, BEL -> ␇), DEL by ␡, a C1 control
by ␛ and its 7-bit form (CSI -> ␛[), invisible formatting characters by <U+XXXX>,
lone surrogates by �.  Tab and newline stay (a CRLF becomes a newline).

`strip_escape_sequences` removes whole terminal escape sequences (colours, cursor
moves, titles) from command output, where they are noise rather than content;
`clean_output` does both.  No Textual here: the engine's exports use it, and the TUI
builds its safe `Text` on it (tui/safe_text.py).
"""

from __future__ import annotations

import re

#: a CSI sequence (colours, cursor, erase), an OSC/DCS/PM/APC string up to its BEL or
#: ST terminator (titles, hyperlinks), or a two-character escape; none spans a line
ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]"
)

_INVISIBLE = [*range(0x200B, 0x2010), *range(0x2028, 0x202F), *range(0x2060, 0x2070),
              0xFEFF, *range(0xFFF9, 0xFFFC)]

_PICTURES: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_PICTURES[0x7F] = "\u2421"  # ␡
_PICTURES.update({c: "\u241b" + chr(c - 0x40) for c in range(0x80, 0xA0)})  # ␛ + 7-bit form
_PICTURES.update({c: f"<U+{c:04X}>" for c in _INVISIBLE})
_PICTURES.update({c: "\ufffd" for c in range(0xD800, 0xE000)})  # lone surrogates

_NEEDS_WORK = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff]"
)


_LINE_PICTURES = {**_PICTURES, 0x09: "\u2409", 0x0A: "\u240a"}  # ␉ ␊


def visible_line(text: str) -> str:
    """Like `visible_controls`, for text that must be read as one line (a line of a
    command to approve, a path): tabs and line breaks are made visible too."""
    return text.translate(_LINE_PICTURES)


def has_controls(text: str) -> bool:
    """Whether ``text`` holds anything `visible_controls` would replace (a fast check)."""
    return _NEEDS_WORK.search(text) is not None


def visible_controls(text: str) -> str:
    """``text`` with every control character replaced by a visible placeholder."""
    if not _NEEDS_WORK.search(text):
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_PICTURES)


_RAW_IN_JSON = re.compile(
    "[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def escape_json_controls(text: str) -> str:
    """JSON as `json.dumps(..., ensure_ascii=False)` writes it, with the characters it
    leaves raw (DEL, C1 controls, invisible formatting, lone surrogates) escaped as
    \\uXXXX: the same JSON value, but safe to print on a terminal."""
    if not _RAW_IN_JSON.search(text):
        return text
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def strip_escape_sequences(text: str) -> str:
    """``text`` without terminal escape sequences (a lone ESC stays, for visible_controls)."""
    return ESCAPE_SEQUENCE.sub("", text) if "\x1b" in text else text


def clean_output(text: str) -> str:
    """Command output as shown: escape sequences removed, other controls made visible."""
    return visible_controls(strip_escape_sequences(text))
