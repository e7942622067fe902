"""Per-agent console scrollback, bounded, fed by `console` events.

Output arrives in chunks that split lines anywhere; a chunk's unfinished last line
waits for the rest (or for the command's exit).  Output loses its escape sequences
(colours are noise here); commands, the model's words and anything left over keep
their control characters, made visible (engine/control_chars.py).  Every agent
keeps at most ``scrollback`` lines; a running count lets the visible console take
only what is new since its last flush.  No Textual here.
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from engine import events as ev
from engine.control_chars import clean_output, has_controls, visible_controls, visible_line
from tui.state import error_reason

DEFAULT_SCROLLBACK = 10_000
MAX_PARTIAL = 4096  # an unterminated line longer than this is shown anyway

COMMAND_PREFIX = "$ "
EXIT_PREFIX = "[exit "
SAID_PREFIX = "› "  # what the model says (assistant_text), between its commands
ERROR_PREFIX = "✖ "  # a refused or failed tool call and its reason
SAID_WIDTH = 100  # a streamed paragraph is shown in lines of at most this many characters


def exit_line(exit_code: int | None, timed_out: bool = False, truncated: bool = False) -> str:
    """The line shown after a command: `[exit 0]`, `[exit 124 · timed out]`…"""
    parts = [f"{EXIT_PREFIX}{exit_code if exit_code is not None else '?'}"]
    if timed_out:
        parts.append("timed out")
    if truncated:
        parts.append("output truncated in the tool result")
    return " · ".join(parts) + "]"


class AgentConsole:
    __slots__ = ("lines", "partial", "said", "total")

    def __init__(self, scrollback: int) -> None:
        self.lines: deque[str] = deque(maxlen=scrollback)
        self.partial = ""
        self.said = ""  # the model's unfinished line of streamed text
        self.total = 0  # lines ever completed (also counts those dropped from scrollback)

    def add_lines(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.total += len(lines)

    def feed(self, text: str) -> None:
        """A chunk of command output.  Lines are cleaned once complete (an escape
        sequence may be split across chunks): sequences removed, other controls visible."""
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        parts = text.split("\n")
        parts[0] = self.partial + parts[0]
        self.partial = parts.pop()
        if len(self.partial) > MAX_PARTIAL:
            parts.append(self.partial)
            self.partial = ""
        if parts:
            if has_controls(text) or has_controls(parts[0]):  # cleaned in one pass
                parts = clean_output("\n".join(parts)).split("\n")
            self.add_lines(parts)

    def end_line(self) -> None:
        if self.partial:
            self.add_lines([clean_output(self.partial)])
            self.partial = ""

    def say(self, text: str, final: bool = False) -> None:
        """A chunk of the model's streamed text: whole lines (long ones wrapped) go out
        as they complete, each marked with SAID_PREFIX; ``final`` ends the paragraph."""
        parts = (self.said + visible_controls(text.replace("\r", ""))).split("\n")
        self.said = parts.pop()
        while len(self.said) > SAID_WIDTH:
            cut = self.said.rfind(" ", 0, SAID_WIDTH + 1)
            cut = cut if cut > 0 else SAID_WIDTH
            parts.append(self.said[:cut])
            self.said = self.said[cut:].lstrip(" ")
        if final and self.said:
            parts.append(self.said)
            self.said = ""
        lines = [SAID_PREFIX + part for part in parts if part.strip()]
        if lines:
            self.end_line()
            self.add_lines(lines)

    def tail(self, count: int) -> list[str]:
        """The last ``count`` completed lines still in scrollback (walked from the end:
        a full scrollback is not skipped through on every flush)."""
        if count <= 0:
            return []
        lines = list(islice(reversed(self.lines), count))
        lines.reverse()
        return lines


class ConsoleBuffers:
    """Bounded consoles of every agent; the bridge feeds them, the visible one reads."""

    def __init__(self, scrollback: int = DEFAULT_SCROLLBACK) -> None:
        self.scrollback = scrollback
        self.consoles: dict[str, AgentConsole] = {}
        self.lines_in = 0  # completed lines received, all agents (for the benchmark)

    def of(self, agent: str) -> AgentConsole:
        console = self.consoles.get(agent)
        if console is None:
            console = self.consoles[agent] = AgentConsole(self.scrollback)
        return console

    def apply(self, event: ev.Event) -> None:
        """Fold one `console` event (command | output | exit) or one chunk of the
        model's streamed text (`assistant_text`) into its agent's buffer."""
        if event.agent is None:
            return
        console = self.of(event.agent)
        before = console.total
        kind = event.data.get("kind")
        if event.type == ev.TOOL_RESULT:
            console.end_line()
            reason = visible_line(visible_controls(error_reason(event.data.get("result"))))
            console.add_lines([f"{ERROR_PREFIX}{event.data.get('tool', '')}: {reason}"])
        elif event.type == ev.ASSISTANT_TEXT:
            console.say(event.data.get("text", ""), bool(event.data.get("final")))
        elif kind == "output":
            console.feed(event.data.get("text", ""))
        elif kind == "command":
            console.end_line()
            text = visible_controls(event.data.get("text", ""))  # shown as the agent wrote it
            console.add_lines([COMMAND_PREFIX + line if i == 0 else "  " + line
                               for i, line in enumerate(text.split("\n"))])
        elif kind == "exit":
            console.end_line()
            console.add_lines([exit_line(event.data.get("exit_code"),
                                         bool(event.data.get("timed_out")),
                                         bool(event.data.get("truncated")))])
        self.lines_in += console.total - before

    def new_since(self, agent: str, seen_total: int) -> tuple[list[str], int]:
        """Lines of ``agent`` completed after ``seen_total``; returns them and the new total."""
        console = self.of(agent)
        return console.tail(console.total - seen_total), console.total
