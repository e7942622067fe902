"""Model API usage seen by the egress proxy, charged to the agent's budget.

A secret with `meter: true` (e.g. the Anthropic API key for an agent whose program calls
the Messages API itself) makes the proxy hand that host's responses to a
:class:`ResponseMeter`: it reads the HTTP response as it streams by (de-chunked; the
request asked for no compression), takes the usage from the SSE events or the JSON
reply with the same checks as the CLI agents' model socket (`UsageMeter`: negative or
absurd counts are never trusted), and charges the agent once the response ended.  While
a charge waits on a budget interrupt, the agent's next metered request waits too; after
the person stopped the agent at its budget, every further one is refused.  So spending
through the proxy is seen and stopped mid-turn, like a Claude agent's.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine.brains.base import BrainError
from engine.brains.model_api import MAX_BODY, UsageMeter
from sandboxes.network.http import BadRequest, parse_response_head

if TYPE_CHECKING:
    from engine.run import Engine


class MeterGate:
    """One agent's metered requests: wait while a charge is pending, refuse once stopped."""

    def __init__(self, engine: Engine, agent_id: str) -> None:
        self.engine = engine
        self.agent_id = agent_id
        self.lock = asyncio.Lock()
        self.stopped: str | None = None

    def meter(self) -> ResponseMeter:
        return ResponseMeter(self)


class ResponseMeter:
    def __init__(self, gate: MeterGate) -> None:
        self.gate = gate
        self.usage = UsageMeter()
        self._head = b""
        self._head_done = False
        self._sse = False
        self._ok = False
        self._chunked = False
        self._pending = b""  # undecoded chunked bytes
        self._left = 0  # bytes left in the current chunk
        self._json = bytearray()

    async def start(self) -> str | None:
        """None to forward the request; else why it is refused."""
        async with self.gate.lock:  # a charge blocked on the budget holds it
            return self.gate.stopped

    def feed(self, data: bytes) -> None:
        if not self._head_done:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > 65536:
                    self._head_done = True  # not HTTP we understand: nothing to meter
                return
            head, data = self._head[:end + 4], self._head[end + 4:]
            self._head_done = True
            try:
                reply = parse_response_head(head)
            except BadRequest:
                return  # not HTTP we understand: nothing to meter
            self._ok = reply.status == 200
            self._sse = reply.has("content-type", "text/event-stream")
            self._chunked = reply.has("transfer-encoding", "chunked")
        if self._ok and data:
            self._body(self._dechunk(data) if self._chunked else data)

    def _dechunk(self, data: bytes) -> bytes:
        """The body bytes of a chunked stream (`_left`: bytes left of the current chunk,
        then -2 for its CRLF; 0: a size line comes next)."""
        out = bytearray()
        buf = self._pending + data
        self._pending = b""
        while buf:
            if self._left > 0:
                take = buf[:self._left]
                out += take
                self._left -= len(take)
                buf = buf[len(take):]
                if self._left == 0:
                    self._left = -2
            elif self._left < 0:
                skip = min(-self._left, len(buf))
                buf = buf[skip:]
                self._left += skip
            else:
                line_end = buf.find(b"\r\n")
                if line_end < 0:
                    self._pending = buf[-64:]  # a size line split across reads
                    break
                try:
                    size = int(buf[:line_end].split(b";")[0], 16)
                except ValueError:
                    self._ok = False  # not chunked as announced: meter nothing more
                    break
                buf = buf[line_end + 2:]
                if size == 0:
                    break  # the last chunk (trailers are ignored)
                self._left = size
        return bytes(out)

    def _body(self, data: bytes) -> None:
        if self._sse:
            self.usage.feed_sse(data)
        elif len(self._json) < MAX_BODY:
            self._json += data

    async def finish(self) -> None:
        if self._json:
            self.usage.feed_json(bytes(self._json))
        if not self.usage.seen:
            return
        engine, gate = self.gate.engine, self.gate
        rt = engine.agents.get(gate.agent_id)
        if rt is None:
            return
        usage = self.usage.usage()
        price = engine.budget.prices.lookup(usage.model)
        async with gate.lock:
            try:
                await rt.record_usage(usage, price.cost(usage) if price else None)
            except BrainError as exc:  # stopped at its budget, or no price at all
                gate.stopped = f"agent {gate.agent_id} may not call the model API any more: {exc}"
