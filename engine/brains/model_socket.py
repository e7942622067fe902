"""The model API for a CLI agent, over a per-agent socket (key injected, metered).

A sandbox has no network.  The engine serves one socket per CLI agent and forwards each
request to the upstream the agent's API uses, with the real key added here: the key
never enters the container, which holds a placeholder at most.

* Claude Code sends its requests over a Unix socket (``ANTHROPIC_UNIX_SOCKET``, with
  ``ANTHROPIC_BASE_URL=http://localhost``), in the read-only ``/agentorch/ctl`` mount;
  forwarded to ``ANTHROPIC_BASE_URL`` or api.anthropic.com with ``x-api-key``.
* Codex speaks only TCP: its model provider's base URL is ``http://127.0.0.1:PORT/v1``
  in the container, where the in-container relay (sandboxes/relay) forwards the port
  to this socket; forwarded to ``OPENAI_BASE_URL`` or api.openai.com/v1 with
  ``Authorization: Bearer``.  On the LOCAL backend the socket listens on a loopback
  TCP port instead (:meth:`ModelSocket.start_tcp`).

Every response is metered on its way back (:class:`engine.brains.model_api.UsageMeter`,
from the upstream's own answer: nothing the agent prints is believed) and charged to
the agent's and team's budgets before the next request is forwarded: at 100 % the next
request waits on the budget interrupt, so a CLI agent's spending is stopped mid-turn;
rejected, every further request gets an error the CLI reports.  A client that hangs up
early does not escape its charge: the upstream's answer is read to its end anyway.

Only the API's own POST paths are forwarded (see ``ModelApi.paths``); anything else
gets 403.  The HTTP is parsed by the proxy's parser (sandboxes/network/http.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable

from engine.brains.base import BrainError, Usage
from engine.brains.model_api import ANTHROPIC, MAX_BODY, ModelApi, UsageMeter
from sandboxes.network.http import (
    MAX_HEAD,
    BadRequest,
    RequestHead,
    body_chunks,
    content_length,
    parse_head,
    parse_response_head,
    read_head,
)

#: what the CLI sends as its key: the real one is added by the forwarder
PLACEHOLDER_KEY = "agentorch-key-is-added-outside-the-sandbox"
CONNECT_TIMEOUT = 30.0
#: request headers never passed on (hop-by-hop, ours to set, or credentials of the CLI)
DROP_REQUEST = frozenset({"host", "x-api-key", "authorization", "content-length", "connection",
                          "keep-alive", "transfer-encoding", "accept-encoding", "proxy-authorization",
                          "te", "upgrade", "expect"})
DROP_RESPONSE = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                           "content-encoding"})

Charge = Callable[[Usage], Awaitable[None]]


class ModelSocket:
    """One agent's socket to one model API."""

    def __init__(self, path: str, charge: Charge, *, api_key: str, upstream: str | None,
                 owner: tuple[int, int] | None = None, api: ModelApi = ANTHROPIC,
                 mode: int = 0o600) -> None:
        self.path = path
        self.charge = charge
        self.api = api
        self.api_key = api_key
        self.upstream = (upstream or api.default_upstream).rstrip("/")
        self.owner = owner
        self.mode = mode
        self.port: int | None = None  # the loopback port, when served over TCP
        self.stopped: str | None = None  # why requests are refused (budget rejected)
        self.requests = 0
        self._gate = asyncio.Lock()  # held while a response is charged
        self._server: asyncio.base_events.Server | None = None
        url = urllib.parse.urlsplit(self.upstream)
        self._tls = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._tls else 80)
        self._prefix = url.path.rstrip("/")
        self._handlers: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Listen on the Unix socket ``path`` (its mode ``mode``, owned by ``owner``)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_HEAD)
        os.chmod(self.path, self.mode)
        if self.owner is not None and os.geteuid() == 0:
            os.chown(self.path, *self.owner)

    async def start_tcp(self) -> int:
        """Listen on a free port of 127.0.0.1 instead (the LOCAL backend: no container,
        no relay); returns the port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.path = ""
        return self.port

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(BaseException):
                await task
        if self.path:
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
        except BadRequest as exc:
            with contextlib.suppress(Exception):
                await self._error(writer, 400, f"agentorch: {exc}", keep=False)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if task is not None:
                self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _one_request(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        data = await read_head(reader)
        if not data:
            return False
        head = parse_head(data)
        if head.has("transfer-encoding", "chunked"):
            await self._error(writer, 411, "agentorch: send the request with a content-length",
                              keep=False)
            return False
        length = content_length(head) or 0
        if length > MAX_BODY:
            await self._error(writer, 413, "agentorch: request body too large", keep=False)
            return False
        body = await reader.readexactly(length) if length else b""
        path = head.target.split("?", 1)[0]
        keep = not head.has("connection", "close")  # the client's wish for the connection
        if head.method != "POST" or path not in self.api.paths:
            await self._error(writer, 403, f"agentorch: {head.method} {path[:100]} is not "
                                           f"forwarded to the {self.api.name}", keep=keep)
            return keep
        if (why := self.api.refusal(body)) is not None:
            await self._error(writer, 400, f"agentorch: {why}", keep=keep)
            return keep
        async with self._gate:  # a response being charged (maybe waiting on a budget) first
            pass
        if self.stopped:
            await self._error(writer, 403, f"agentorch: {self.stopped}", "permission_error",
                              keep=keep)
            return keep
        return await self._forward(writer, head, body, path == self.api.metered) and keep

    async def _forward(self, writer: asyncio.StreamWriter, head: RequestHead, body: bytes,
                       metered: bool) -> bool:
        """Forward one request and stream its answer back; False when the client left."""
        self.requests += 1
        api = self.api
        out = [(k, v) for k, v in head.headers if k.lower() not in DROP_REQUEST]
        host = self._host if self._port in (80, 443) else f"{self._host}:{self._port}"
        out += [("host", host), (api.key_header, api.key_prefix + self.api_key),
                ("content-length", str(len(body))), ("accept-encoding", "identity"),
                ("connection", "close")]
        lines = "".join(f"{k}: {v}\r\n" for k, v in out)
        meter = UsageMeter()
        target = self._prefix + api.upstream_path(head.target)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                up_r, up_w = await asyncio.open_connection(
                    self._host, self._port, ssl=ssl.create_default_context() if self._tls else None,
                    limit=MAX_HEAD)
            up_w.write(f"POST {target} HTTP/1.1\r\n{lines}\r\n".encode("latin-1", "replace")
                       + body)
            await up_w.drain()
            reply = parse_response_head(await read_head(up_r))
        except (OSError, TimeoutError, BadRequest, asyncio.IncompleteReadError) as exc:
            await self._error(writer, 502, f"agentorch: the model API did not answer ({exc})",
                              "api_error")
            return True
        client = True  # the client is still there to read the answer
        sse = reply.has("content-type", "text/event-stream")
        whole = bytearray()
        try:
            status_line = f"HTTP/1.1 {reply.status} {reply.reason}"
            head_out = [status_line, *(f"{k}: {v}" for k, v in reply.headers
                                       if k.lower() not in DROP_RESPONSE),
                        "transfer-encoding: chunked",
                        "connection: " + ("close" if head.has("connection", "close")
                                          else "keep-alive"), "", ""]
            client = await _send(writer, "\r\n".join(head_out).encode("latin-1", "replace"))
            async for chunk in body_chunks(up_r, reply):
                if metered and reply.status == 200:
                    if sse:
                        meter.feed_sse(chunk)
                    elif len(whole) < MAX_BODY:
                        whole += chunk
                if client:  # else the answer is still read to its end: it is charged
                    client = await _send(writer, b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if client:
                client = await _send(writer, b"0\r\n\r\n")
        except (OSError, BadRequest, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            client = False  # the upstream broke off: what it said so far is charged
        finally:
            up_w.close()
        if whole:
            meter.feed_json(bytes(whole))
        if meter.seen:
            async with self._gate:
                try:
                    await self.charge(meter.usage())
                except BrainError as exc:  # the person stopped the agent at its budget
                    self.stopped = str(exc)
        return client

    async def _error(self, writer: asyncio.StreamWriter, status: int, message: str,
                     kind: str = "invalid_request_error", keep: bool = True) -> None:
        data = self.api.error_body(message, kind)
        writer.write(b"HTTP/1.1 %d agentorch\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\nconnection: %s\r\n\r\n%s"
                     % (status, len(data), b"keep-alive" if keep else b"close", data))
        await writer.drain()


async def _send(writer: asyncio.StreamWriter, data: bytes) -> bool:
    """Write to the client; False once it has gone."""
    try:
        writer.write(data)
        await writer.drain()
    except (ConnectionError, OSError):
        return False
    return True
