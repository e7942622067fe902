"""The model API for a CLI agent, over a per-agent Unix socket (key injected, metered).

A sandbox has no network.  Claude Code can send its API requests over a Unix socket
(``ANTHROPIC_UNIX_SOCKET``, with ``ANTHROPIC_BASE_URL=http://localhost``: plain HTTP on
the socket), so the engine serves one socket per agent in a directory bind-mounted
read-only into the container, and forwards each request to the upstream the Claude
brain uses (``ANTHROPIC_BASE_URL`` or api.anthropic.com) with the real key added here:
the key never enters the container, which only holds a placeholder.

Every response is metered on its way back (``message_start`` / ``message_delta`` usage
of a stream, or the ``usage`` of a JSON reply) and charged to the agent's and team's
budgets before the next request is forwarded: at 100 % the next request waits on the
budget interrupt, so a CLI agent's spending is stopped mid-turn; rejected, every further
request gets an error the CLI reports.

Only ``POST /v1/messages`` (and ``/v1/messages/count_tokens``) are forwarded; anything
else gets 403.  This is the minimal piece the egress issue's proxy can replace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from engine.brains.base import BrainError, Usage
from engine.budget import checked_count

DEFAULT_UPSTREAM = "https://api.anthropic.com"
#: what the CLI sends as its key: the real one is added by the forwarder
PLACEHOLDER_KEY = "agentorch-key-is-added-outside-the-sandbox"
MAX_BODY = 32 * 1024 * 1024
MAX_HEADER_LINES = 200
ALLOWED_PATHS = ("/v1/messages", "/v1/messages/count_tokens")
CONNECT_TIMEOUT = 30.0
#: request headers never passed on (hop-by-hop, ours to set, or credentials of the CLI)
DROP_REQUEST = frozenset({"host", "x-api-key", "authorization", "content-length", "connection",
                          "keep-alive", "transfer-encoding", "accept-encoding", "proxy-authorization",
                          "te", "upgrade"})
DROP_RESPONSE = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                           "content-encoding"})

Charge = Callable[[Usage], Awaitable[None]]


class UsageMeter:
    """The usage of one response, from its SSE events or its JSON body."""

    def __init__(self) -> None:
        self.model = ""
        self.counts = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                       "cache_creation_input_tokens": 0}
        self.problems: list[str] = []
        self.seen = False
        self._buffer = b""

    def feed_sse(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > 4 * 1024 * 1024:  # one line this long is not an event we read
            self._buffer = b""
        for line in lines:
            if line.startswith(b"data:"):
                with contextlib.suppress(ValueError):
                    self.event(json.loads(line[5:]))

    def event(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            self.model = str(message.get("model") or "")[:200]
            self._take(message.get("usage"))
        elif event.get("type") == "message_delta":
            self._take(event.get("usage"))
        elif event.get("type") == "message":  # a JSON (not streamed) reply
            self.model = str(event.get("model") or "")[:200]
            self._take(event.get("usage"))

    def _take(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        self.seen = True
        for name in self.counts:
            if name in usage:  # a later event repeats or updates the count
                count, problem = checked_count(usage[name])
                if problem:
                    self.problems.append(f"{name} {problem}")
                self.counts[name] = count

    def usage(self) -> Usage:
        c = self.counts
        return Usage(c["input_tokens"], c["output_tokens"], c["cache_read_input_tokens"],
                     c["cache_creation_input_tokens"], self.model)


class ModelSocket:
    """One agent's socket to the model API."""

    def __init__(self, path: str, charge: Charge, *, api_key: str, upstream: str | None,
                 owner: tuple[int, int] | None = None) -> None:
        self.path = path
        self.charge = charge
        self.api_key = api_key
        self.upstream = (upstream or DEFAULT_UPSTREAM).rstrip("/")
        self.owner = owner
        self.stopped: str | None = None  # why requests are refused (budget rejected)
        self.requests = 0
        self._gate = asyncio.Lock()  # held while a response is charged
        self._server: asyncio.base_events.Server | None = None
        url = urllib.parse.urlsplit(self.upstream)
        self._tls = url.scheme == "https"
        self._host = url.hostname or "api.anthropic.com"
        self._port = url.port or (443 if self._tls else 80)
        self._prefix = url.path.rstrip("/")
        self._handlers: set[asyncio.Task] = set()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=1 << 20)
        os.chmod(self.path, 0o600)
        if self.owner is not None and os.geteuid() == 0:
            os.chown(self.path, *self.owner)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    # -- one connection ------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _one_request(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, _, rest = line.decode("latin-1").strip().partition(" ")
        target = rest.rpartition(" ")[0] or rest
        headers = await _read_headers(reader)
        lower = {k.lower(): v for k, v in headers}
        if "chunked" in lower.get("transfer-encoding", "").lower():
            await self._error(writer, 411, "agentorch: send the request with a content-length")
            return False
        length = int(lower.get("content-length") or 0)
        if not 0 <= length <= MAX_BODY:
            await self._error(writer, 413, "agentorch: request body too large")
            return False
        body = await reader.readexactly(length) if length else b""
        path = target.split("?", 1)[0]
        if method != "POST" or path not in ALLOWED_PATHS:
            await self._error(writer, 403, f"agentorch: {method} {path[:100]} is not forwarded")
            return True
        async with self._gate:  # a response being charged (maybe waiting on a budget) first
            pass
        if self.stopped:
            await self._error(writer, 403, f"agentorch: {self.stopped}", "permission_error")
            return True
        await self._forward(writer, target, headers, body, path == ALLOWED_PATHS[0])
        return True

    async def _forward(self, writer: asyncio.StreamWriter, target: str,
                       headers: list[tuple[str, str]], body: bytes, metered: bool) -> None:
        self.requests += 1
        out = [(k, v) for k, v in headers if k.lower() not in DROP_REQUEST]
        host = self._host if self._port in (80, 443) else f"{self._host}:{self._port}"
        out += [("host", host), ("x-api-key", self.api_key), ("content-length", str(len(body))),
                ("accept-encoding", "identity"), ("connection", "close")]
        request = "".join(f"{k}: {v}\r\n" for k, v in out)
        meter = UsageMeter()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                up_r, up_w = await asyncio.open_connection(
                    self._host, self._port, ssl=ssl.create_default_context() if self._tls else None,
                    limit=1 << 20)
            up_w.write(f"POST {self._prefix}{target} HTTP/1.1\r\n{request}\r\n".encode(
                "latin-1", "replace") + body)
            await up_w.drain()
            status_line = (await up_r.readline()).decode("latin-1").strip()
            reply_headers = await _read_headers(up_r)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            await self._error(writer, 502, f"agentorch: the model API did not answer ({exc})",
                              "api_error")
            return
        try:
            status = int(status_line.split(" ")[1]) if status_line.count(" ") else 502
            lower = {k.lower(): v for k, v in reply_headers}
            head = [status_line.replace("HTTP/1.0", "HTTP/1.1")]
            head += [f"{k}: {v}" for k, v in reply_headers if k.lower() not in DROP_RESPONSE]
            head += ["transfer-encoding: chunked", "connection: keep-alive", "", ""]
            writer.write("\r\n".join(head).encode("latin-1", "replace"))
            sse = "text/event-stream" in lower.get("content-type", "")
            whole = bytearray()
            async for chunk in _body(up_r, lower):
                if metered and status == 200:
                    if sse:
                        meter.feed_sse(chunk)
                    elif len(whole) < MAX_BODY:
                        whole += chunk
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            up_w.close()
        if whole:
            with contextlib.suppress(ValueError):
                meter.event(json.loads(bytes(whole)))
        if meter.seen:
            async with self._gate:
                try:
                    await self.charge(meter.usage())
                except BrainError as exc:  # the person stopped the agent at its budget
                    self.stopped = str(exc)

    @staticmethod
    async def _error(writer: asyncio.StreamWriter, status: int, message: str,
                     kind: str = "invalid_request_error") -> None:
        data = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
        writer.write(b"HTTP/1.1 %d agentorch\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\nconnection: keep-alive\r\n\r\n%s"
                     % (status, len(data), data))
        await writer.drain()


async def _read_headers(reader: asyncio.StreamReader) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            return headers
        if len(headers) >= MAX_HEADER_LINES:
            raise ValueError("too many headers")
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))


async def _body(reader: asyncio.StreamReader, headers: dict[str, str]):
    """A response body, chunk by chunk (chunked, content-length, or up to the close)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await _read_headers(reader)  # trailers
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)
    elif "content-length" in headers:
        left = int(headers["content-length"])
        while left > 0:
            chunk = await reader.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    else:
        while chunk := await reader.read(65536):
            yield chunk
