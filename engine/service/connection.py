"""One client of the control socket: its commands in, its replies and events out.

Replies and events wait in a bounded backlog (``ControlServer.backlog`` lines): a
client that falls that far behind live events is dropped with a `dropped` line naming
the `from_seq` to subscribe again with.  A replay of stored events goes at the client's
own pace and never counts against it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.control_chars import visible_controls
from engine.recording import ControlError
from engine.service.lines import TOO_LONG, TOO_LONG_TEXT, LineSplitter, read_command
from memory.store import StoreError

if TYPE_CHECKING:
    from engine.service.control_socket import ControlServer

PROTOCOL_VERSION = 1
#: stored events read at once while replaying
REPLAY_PAGE = 2000
#: characters handed to the transport at once (beyond it, lines wait in the backlog)
WRITE_CHUNK = 256 * 1024
#: how long a closing run waits for its clients to take their last events
CLOSE_GRACE = 5.0

_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def reply(kind: str, request_id: Any = None, **fields: Any) -> str:
    out: dict[str, Any] = {"type": kind, **fields}
    if request_id is not None:
        out["id"] = request_id
    return _encode(out)


def peer_credentials(sock: Any) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket (Linux)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


class ClientConnection:
    """One connected client: its commands in, its replies and events out."""

    def __init__(self, server: ControlServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.engine = server.engine
        self.reader = reader
        self.writer = writer
        self.pid = 0
        self.label = "a client"
        self.out: collections.deque[str] = collections.deque()
        self._wake = asyncio.Event()
        self.subscribed = False
        self.replaying = False
        self.pending_live: list[ev.Event] = []
        self.last_sent = 0
        self.dropped = False
        self.ending = False
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._room = asyncio.Event()  # set when the writer took lines from `out`
        self.closed = asyncio.Event()

    # -- the connection -----------------------------------------------------------------
    async def serve(self) -> None:
        writer_task = asyncio.create_task(self._write_loop(), name="control-client-writer")
        try:
            if not self._peer_allowed():
                return
            self.send(self._hello())
            await self._read_loop()
        finally:
            self._stop()
            await writer_task
            self.abort()
            self.closed.set()

    def _peer_allowed(self) -> bool:
        try:
            pid, uid, _ = peer_credentials(self.writer.get_extra_info("socket"))
        except (OSError, AttributeError, struct.error):
            self.send(reply("error", text="refused: the peer's credentials cannot be read"))
            return False
        if uid != os.getuid():
            self.send(reply("error", text=f"refused: this socket serves uid {os.getuid()} "
                                          f"only, not uid {uid}"))
            return False
        self.pid = pid
        self.label = f"pid {pid}"
        return True

    def _hello(self, request_id: Any = None) -> str:
        engine = self.engine
        return reply("hello", request_id, protocol=PROTOCOL_VERSION, run_id=engine.run_id,
                     team=engine.team.name, agents=engine.team.agent_ids, pid=os.getpid(),
                     status=engine.status, last_seq=engine.seq,
                     db=str(Path(engine.store.path).resolve()))

    async def _read_loop(self) -> None:
        splitter = LineSplitter()
        while not self.ending:
            reading = asyncio.ensure_future(self.reader.read(65536))
            await asyncio.wait([reading, self._ended], return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():  # the run ended or the client was dropped
                reading.cancel()
                return
            try:
                chunk = reading.result()
            except (ConnectionError, OSError):
                return
            lines = splitter.feed(chunk) if chunk else splitter.end()
            for line in lines:
                await self._one(line)
                if self.ending:
                    return
            if not chunk:
                return

    async def _write_loop(self) -> None:
        out, writer = self.out, self.writer
        try:
            while True:
                while not out and not self.ending:
                    self._wake.clear()
                    await self._wake.wait()
                if not out:
                    return
                lines, size = [], 0
                while out and size < WRITE_CHUNK:  # the rest waits in `out`, counted
                    lines.append(out.popleft())
                    size += len(lines[-1])
                self._room.set()
                writer.write(("\n".join(lines) + "\n").encode("utf-8", "replace"))
                await writer.drain()
        except (ConnectionError, OSError):
            self._stop()

    def send(self, line: str) -> None:
        if self.dropped:
            return
        if len(self.out) >= self.server.backlog:
            self._drop()
            return
        self.out.append(line)
        if not self._wake.is_set():
            self._wake.set()

    def _drop(self) -> None:
        """Too far behind: tell it (as the last line it gets) and hang up."""
        self.dropped = True
        self.out.clear()
        text = (f"dropped: you fell {self.server.backlog} lines behind the run; subscribe "
                f"again with from_seq {self.last_sent + 1} to go on")
        try:
            self.writer.write((reply("dropped", text=text, from_seq=self.last_sent + 1)
                               + "\n").encode())
        except (ConnectionError, OSError, RuntimeError):
            pass
        self.server.client_dropped(self)
        self._stop()
        self.abort()  # a peer that reads no more gets no more of our memory

    def end(self) -> None:
        """The run is over: what is queued still goes out, then the connection closes."""
        self._stop()

    def _stop(self) -> None:
        self.ending = True
        self._wake.set()
        self._room.set()
        if not self._ended.done():
            self._ended.set_result(None)

    def abort(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.close()
        loop = asyncio.get_running_loop()
        loop.call_later(CLOSE_GRACE, transport.abort)  # a peer that never reads its last lines

    # -- commands ---------------------------------------------------------------------------
    async def _one(self, line: Any) -> None:
        if line is TOO_LONG:
            self.send(reply("error", text=TOO_LONG_TEXT))
            return
        if not line.strip():
            return
        try:
            raw = read_command(line)
        except ValueError as exc:
            self.send(reply("error", text=str(exc), line=visible_controls(line.strip()[:200])))
            return
        request_id = raw.pop("id", None) if isinstance(raw, dict) else None
        if not isinstance(request_id, (str, int, type(None))) or isinstance(request_id, bool):
            request_id = None
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind == "hello":
            self._client_name(raw.get("client"))
            self.send(self._hello(request_id))
        elif kind == "subscribe":
            await self._subscribe(raw.get("from_seq"), request_id)
        else:
            await self._command(raw, request_id)

    def _client_name(self, name: Any) -> None:
        if isinstance(name, str) and name.strip():
            self.label = f"{visible_controls(name.strip()[:40])} (pid {self.pid})"

    async def _command(self, raw: Any, request_id: Any) -> None:
        from engine.service.commands import dispatch

        engine = self.engine
        await engine.started.wait()  # commands sent early wait for the team
        try:
            result = await dispatch(engine, raw, via=self.label)
        except (ControlError, ValueError) as exc:
            self.send(reply("error", request_id, text=str(exc)))
            return
        except Exception as exc:  # a bug: say so, keep serving
            engine.log_exception(None, exc)
            self.send(reply("error", request_id,
                            text=f"internal error: {type(exc).__name__}: {exc}"))
            return
        fields = {} if result is None else {"result": result}
        self.send(reply("ok", request_id, **fields))

    # -- events -----------------------------------------------------------------------------
    async def _subscribe(self, from_seq: Any, request_id: Any) -> None:
        if self.subscribed:
            self.send(reply("error", request_id, text="already subscribed on this connection"))
            return
        if from_seq is not None and (not isinstance(from_seq, int) or isinstance(from_seq, bool)
                                     or from_seq < 0):
            self.send(reply("error", request_id,
                            text="`from_seq` must be a whole number of 0 or more"))
            return
        self.subscribed = self.replaying = True
        self.server.subscribers.add(self)  # live first: nothing falls between
        self.send(reply("ok", request_id, last_seq=self.engine.seq))
        after = self.engine.seq if from_seq is None else max(from_seq - 1, 0)
        try:
            after = await self._replay(after)
        except StoreError as exc:
            self.send(reply("error", text=f"cannot replay the stored events: {exc}"))
        self.last_sent = after
        self.replaying = False
        pending, self.pending_live = self.pending_live, []
        self.live(pending)

    async def _replay(self, after: int) -> int:
        """Send stored events after ``after`` up to the first live one; the last sent."""
        engine = self.engine
        while not self.dropped:
            limit = self.pending_live[0].seq if self.pending_live else engine.seq + 1
            if after + 1 >= limit:
                break
            rows = await engine.store.query(
                "SELECT run_id, seq, ts, type, agent, data FROM events WHERE run_id=? AND seq>?"
                " AND seq<? ORDER BY seq LIMIT ?", (engine.run_id, after, limit, REPLAY_PAGE))
            if not rows:
                break
            for row in rows:
                while len(self.out) > self.server.backlog // 2 and not self.ending:
                    self._room.clear()  # the client's own pace: it never slows the engine
                    await self._room.wait()
                if self.ending:
                    return after
                self.out.append(ev.Event.from_row(*row).to_json())
                self._wake.set()
                after = row[1]
        return after

    def live(self, batch: list[ev.Event]) -> None:
        if self.dropped:
            return
        if self.replaying:
            self.pending_live.extend(batch)
            if len(self.pending_live) > self.server.backlog:
                self._drop()
            return
        last = self.last_sent
        for event in batch:
            if event.seq > last:
                self.send(event.to_json())
                last = event.seq
        self.last_sent = last
