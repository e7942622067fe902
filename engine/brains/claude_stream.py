"""One streamed reply of the Messages API, assembled from its raw events.

We read the raw event stream (``messages.create(stream=True)``) rather than the SDK's
``MessageStream`` helper: the helper re-parses a tool call's partial JSON at every
``input_json_delta`` (quadratic in the size of the arguments), while we only join the
pieces and parse once at ``content_block_stop``.

Text deltas become ``assistant_text`` events, merged so that at most one event per
``TEXT_FLUSH_S`` is emitted while text streams (plus one closing the block, with
``final: true``): the TUI stays live and the event log does not grow by one row per
token.

Usage is validated as it arrives (``engine.budget.checked_count``): a count that is not
a non-negative integer under the ceiling becomes an `error` event and counts as the
ceiling; a missing one counts 0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from engine import events as ev
from engine.brains.base import Usage
from engine.budget import checked_count

TEXT_FLUSH_S = 0.05
#: the API's usage fields and the Reply attributes they fill
USAGE_FIELDS = (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                ("cache_read_input_tokens", "cache_read_tokens"),
                ("cache_creation_input_tokens", "cache_write_tokens"))

Emit = Callable[..., Awaitable[Any]]


@dataclass
class Reply:
    """An assistant message: content blocks (API dicts), stop reason and usage."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    bad_json: list[str] = field(default_factory=list)  # tool_use ids whose input was cut off

    @property
    def usage(self) -> Usage:
        return Usage(self.input_tokens, self.output_tokens, self.cache_read_tokens,
                     self.cache_write_tokens, self.model)

    @property
    def request_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.blocks if b["type"] == "text").strip()

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.blocks if b["type"] == "tool_use"]

    def content(self) -> list[dict[str, Any]]:
        """The blocks to store and send back (the API refuses empty text blocks)."""
        blocks = [b for b in self.blocks if not (b["type"] == "text" and not b["text"])]
        return blocks or [{"type": "text", "text": "(no reply)"}]


class ReplyAssembler:
    def __init__(self, emit: Emit, turn: int, clock: Callable[[], float] = time.monotonic):
        self.reply = Reply()
        self.emit = emit
        self.turn = turn
        self.clock = clock
        self._json: dict[int, list[str]] = {}
        self._pending: list[str] = []
        self._last_flush = clock()
        self.started = False  # an event arrived (errors after this are mid-stream)

    async def feed(self, event: Any) -> None:
        self.started = True
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                self.reply.blocks[event.index]["text"] += delta.text
                self._pending.append(delta.text)
                if self.clock() - self._last_flush >= TEXT_FLUSH_S:
                    await self._flush(final=False)
            elif delta.type == "input_json_delta":
                self._json.setdefault(event.index, []).append(delta.partial_json)
            elif delta.type == "thinking_delta":  # sent back verbatim with its signature
                block = self.reply.blocks[event.index]
                block["thinking"] = block.get("thinking", "") + delta.thinking
            elif delta.type == "signature_delta":
                self.reply.blocks[event.index]["signature"] = delta.signature
        elif kind == "content_block_start":
            self._start_block(event.index, event.content_block)
        elif kind == "content_block_stop":
            await self._stop_block(event.index)
        elif kind == "message_start":
            msg = event.message
            self.reply.model = msg.model if isinstance(msg.model, str) else repr(msg.model)
            await self._take_usage(msg.usage)
        elif kind == "message_delta":
            self.reply.stop_reason = event.delta.stop_reason
            await self._take_usage(event.usage)

    def _start_block(self, index: int, block: Any) -> None:
        blocks = self.reply.blocks
        while len(blocks) <= index:
            blocks.append({"type": "text", "text": ""})
        if block.type == "text":
            blocks[index] = {"type": "text", "text": block.text or ""}
        elif block.type == "tool_use":
            blocks[index] = {"type": "tool_use", "id": block.id, "name": block.name,
                             "input": dict(block.input or {})}
        else:  # thinking and server-tool blocks go back to the API as they came
            blocks[index] = block.model_dump(exclude_none=True)

    async def _stop_block(self, index: int) -> None:
        block = self.reply.blocks[index]
        if block["type"] == "text":
            await self._flush(final=True)
        elif block["type"] == "tool_use" and index in self._json:
            raw = "".join(self._json.pop(index))
            try:
                block["input"] = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError:
                block["input"] = {}
                self.reply.bad_json.append(block["id"])

    async def _flush(self, final: bool) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        self._last_flush = self.clock()
        if text or final:
            await self.emit(ev.ASSISTANT_TEXT, text=text, turn=self.turn, final=final)

    async def _take_usage(self, usage: Any) -> None:
        """Counts given here replace earlier ones (message_delta's are cumulative)."""
        if usage is None:
            return
        problems = []
        for api_name, ours in USAGE_FIELDS:
            value = getattr(usage, api_name, None)
            if value is None:
                continue
            count, problem = checked_count(value)
            if problem:
                problems.append(f"{api_name} {problem}")
            setattr(self.reply, ours, count)
        if problems:
            await self.emit(ev.ERROR, level="error", text=(
                "the API reported impossible usage: " + "; ".join(problems)
                + ": each such count is charged as the ceiling"), usage_problems=problems)

    async def close(self) -> None:
        """A stream that broke mid-text still closes its text for the viewers."""
        if self._pending:
            await self._flush(final=True)
