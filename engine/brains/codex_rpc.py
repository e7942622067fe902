"""The engine's end of ``codex app-server`` (JSON-RPC 2.0, one JSON object a line).

The app server runs in the agent's sandbox with its stdin and stdout on a TCP
connection to ``127.0.0.1:APP_PORT`` (bash's ``/dev/tcp``), which the in-container relay
forwards to this listener's Unix socket in the agent's read-only ``ctl`` folder (on the
LOCAL backend the listener is a loopback port).  One connection a turn is taken: the
first while a turn waits for it; any other is closed at once.  A process of the agent's
that connects in Codex's place gains nothing: it already runs, past every approval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

#: the in-container port of the app server's relay (beside 3128, 3129 and 3130)
APP_PORT = 3131
APP_SOCKET = "app.sock"
MAX_LINE = 16 * 1024 * 1024

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class RpcError(Exception):
    """An error answer of the app server, or the connection ending."""


class AppListener:
    """Where the app server of a turn connects."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._waiting: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None = None

    async def start(self, path: Path | None, owner: tuple[int, int] | None) -> None:
        """On the Unix socket ``path`` (reached through the relay, its own uid: 0666 in
        the private ctl folder), or on a loopback port when ``path`` is None."""
        if path is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=MAX_LINE)
            self.port = int(self._server.sockets[0].getsockname()[1])
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server = await asyncio.start_unix_server(self._accept, str(path), limit=MAX_LINE)
        os.chmod(path, 0o666)
        if owner is not None and os.geteuid() == 0:
            os.chown(path, *owner)

    def expect(self) -> asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """The next connection (for one turn)."""
        self._waiting = asyncio.get_running_loop().create_future()
        return self._waiting

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is None or waiting.done():
            writer.close()
            return
        waiting.set_result((reader, writer))

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()


class Rpc:
    """A JSON-RPC connection: our calls, its notifications, its requests to us."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 on_notification: Handler, on_request: Handler) -> None:
        self._reader, self._writer = reader, writer
        self._on_notification, self._on_request = on_notification, on_request
        self._next = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self._loop = asyncio.ensure_future(self._read())

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        ident = self._next
        self._next += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._send({"id": ident, "method": method, "params": params})
        return await future

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        await self._send({"method": method, **({"params": params} if params else {})})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            raise RpcError("the Codex app server closed the connection")
        self._writer.write(json.dumps(message).encode() + b"\n")
        await self._writer.drain()

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    await self._dispatch(message)
        except (OSError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(RpcError("the Codex app server closed the connection"))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        if isinstance(method, str) and "id" in message:  # its request: answered aside
            task = asyncio.ensure_future(self._answer(message["id"], method, params))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(method, str):
            await self._on_notification(method, params)
        elif isinstance(message.get("id"), int) and message["id"] in self._pending:
            future = self._pending.pop(message["id"])
            if future.done():
                return
            if isinstance(message.get("error"), dict):
                future.set_exception(RpcError(str(message["error"].get("message"))[:300]))
            else:
                future.set_result(message.get("result"))

    async def _answer(self, ident: Any, method: str, params: dict[str, Any]) -> None:
        try:
            result = await self._on_request(method, params)
            await self._send({"id": ident, "result": result})
        except RpcError:
            pass
        except Exception as exc:  # noqa: BLE001 - its request failed: said to it, not raised
            with contextlib.suppress(RpcError, OSError):
                await self._send({"id": ident, "error": {"code": -32000, "message": str(exc)[:300]}})

    def end(self) -> None:
        """Close our side: the app server's stdin ends, and it exits."""
        with contextlib.suppress(OSError):
            self._writer.close()

    async def close(self) -> None:
        for task in [self._loop, *self._tasks]:
            task.cancel()
        with contextlib.suppress(OSError):
            self._writer.close()
        for task in [self._loop, *self._tasks]:
            with contextlib.suppress(BaseException):
                await task
