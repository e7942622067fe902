"""A client of a running engine's control socket (used by `attach` and `mcp`).

    client = await ControlClient.connect(path, name="attach")
    await client.request({"type": "pause", "agent": "coder"})   # ClientError if refused
    await client.subscribe(from_seq=1)                           # history, then live
    async for event in client.events(): ...                      # engine.events.Event

`find_live_run(db, ref)` finds a run that is live and serves a socket.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.recording import ControlError
from engine.service.connection import PROTOCOL_VERSION
from memory.store import run_lookup

#: a line from the engine longer than this is a broken engine, not an event
MAX_LINE = 16 * 1024 * 1024
#: events received and not yet taken before the client stops reading the socket (the
#: engine then drops it, and `resume_from` says where to subscribe again)
MAX_BUFFERED = 20_000
_EVENT_FIELDS = ("type", "run_id", "seq", "ts", "agent")


class ClientError(ControlError):
    """The engine refused a command, or cannot be reached (one sentence)."""


def event_of(obj: dict[str, Any]) -> ev.Event:
    """An event line (a dict with `seq`) as the engine's Event."""
    data = {k: v for k, v in obj.items() if k not in _EVENT_FIELDS}
    return ev.Event(obj["type"], obj.get("run_id", ""), obj["seq"], obj.get("ts", 0.0),
                    obj.get("agent"), data)


class ControlClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 hello: dict[str, Any]) -> None:
        self.reader = reader
        self.writer = writer
        self.hello = hello
        self.run_id: str = hello.get("run_id", "")
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._events: collections.deque[ev.Event | None] = collections.deque()
        self._event_ready = asyncio.Event()
        self._space = asyncio.Event()  # set when the consumer took events
        self.max_buffered = MAX_BUFFERED
        #: why the connection ended, when the engine said (e.g. dropped: too slow)
        self.ended_because: str | None = None
        #: the `from_seq` to subscribe again with after a drop
        self.resume_from: int | None = None
        self.last_seq = 0  # of the newest event received
        self._reader_task = asyncio.create_task(self._read_loop(), name="control-client")

    @classmethod
    async def connect(cls, path: str | Path, name: str = "client",
                      limit: int = MAX_LINE) -> ControlClient:
        """``limit``: the longest line accepted, and about half of what is read ahead."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=limit)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ClientError(f"no engine answers at {path}: the run has ended (or its "
                              "process died); `agentorch-tui runs` shows the live ones") from None
        except OSError as exc:
            raise ClientError(f"cannot connect to {path}: {exc.strerror or exc}") from None
        try:
            line = await reader.readline()
            hello = json.loads(line) if line else {}
        except (ValueError, ConnectionError, asyncio.LimitOverrunError):
            hello = {}
        if hello.get("type") != "hello":
            writer.close()
            text = hello.get("text") if hello.get("type") == "error" else None
            raise ClientError(text or f"the engine at {path} did not greet (not an agentorch "
                                      "control socket?)")
        if hello.get("protocol") != PROTOCOL_VERSION:
            writer.close()
            raise ClientError(f"the engine at {path} speaks protocol {hello.get('protocol')}, "
                              f"this agentorch {PROTOCOL_VERSION}: use the same version")
        client = cls(reader, writer, hello)
        await client.request({"type": "hello", "client": name})
        return client

    # -- requests ---------------------------------------------------------------------
    async def request(self, raw: dict[str, Any]) -> Any:
        """Send one command; its `result` (or the whole reply); ClientError when refused."""
        if self._reader_task.done():
            raise ClientError(self.ended_because or "the run has ended: the connection is closed")
        request_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            self.writer.write((json.dumps({**raw, "id": request_id}) + "\n").encode())
            await self.writer.drain()
        except (ConnectionError, OSError):
            self._pending.pop(request_id, None)
            raise ClientError("the run has ended: the connection is closed") from None
        reply = await fut
        if reply.get("type") == "error":
            raise ClientError(str(reply.get("text", "refused")))
        return reply.get("result", reply)

    async def subscribe(self, from_seq: int | None = None) -> int:
        """Events from ``from_seq`` (stored, then live), or only live ones; the engine's
        last sequence number when it answered."""
        raw: dict[str, Any] = {"type": "subscribe"}
        if from_seq is not None:
            raw["from_seq"] = from_seq
        reply = await self.request(raw)
        return int(reply.get("last_seq", 0))

    # -- events -----------------------------------------------------------------------
    async def next_event(self) -> ev.Event | None:
        """The next event, or None once the connection ended."""
        while not self._events:
            self._event_ready.clear()
            await self._event_ready.wait()
        item = self._events.popleft()
        if item is None:
            self._events.appendleft(None)
        self._space.set()
        return item

    def take_events(self, limit: int = 10_000) -> list[ev.Event]:
        """Events already received (no waiting), up to ``limit``."""
        out: list[ev.Event] = []
        while self._events and self._events[0] is not None and len(out) < limit:
            out.append(self._events.popleft())  # type: ignore[arg-type]
        self._space.set()
        return out

    async def events(self) -> AsyncIterator[ev.Event]:
        while (event := await self.next_event()) is not None:
            yield event

    async def _read_loop(self) -> None:
        try:
            while line := await self.reader.readline():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    self._received(obj)
                while len(self._events) >= self.max_buffered:  # a slow consumer: read no
                    self._space.clear()                         # more (back-pressure)
                    await self._space.wait()
        except (ConnectionError, OSError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            self._events.append(None)
            self._event_ready.set()
            error = ClientError(self.ended_because or "the run has ended: the connection "
                                "closed")
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(error)
            self._pending.clear()

    def _received(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("seq"), int) and isinstance(obj.get("type"), str):
            event = event_of(obj)
            self.last_seq = event.seq
            self._events.append(event)
            self._event_ready.set()
            return
        if obj.get("type") == "dropped":
            self.ended_because = str(obj.get("text", "dropped by the engine"))
            self.resume_from = obj.get("from_seq")
            return
        fut = self._pending.pop(obj.get("id"), None) if "id" in obj else None
        if fut is not None and not fut.done():
            fut.set_result(obj)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        self._reader_task.cancel()
        await asyncio.gather(self._reader_task, return_exceptions=True)


def stored_events(db: str | Path, run_id: str, after: int) -> list[ev.Event]:
    """The events of ``run_id`` after ``after`` from its database (read-only): what a
    client dropped near the end of a run still gets once the socket is gone."""
    conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT run_id, seq, ts, type, agent, data FROM events "
                            "WHERE run_id=? AND seq>? ORDER BY seq", (run_id, after)).fetchall()
    except sqlite3.Error as exc:
        raise ClientError(f"cannot read the state database {db}: {exc}") from None
    finally:
        conn.close()
    return [ev.Event.from_row(*row) for row in rows]


# -- finding a live run ---------------------------------------------------------------
LAST_LIVE = ("SELECT * FROM runs WHERE status='running' AND socket IS NOT NULL "
             "ORDER BY started DESC")


def live_socket(run: dict[str, Any]) -> Path | None:
    """The socket of ``run`` when its engine is alive and serves one, else None."""
    from sandboxes.processes import pid_alive

    path = run.get("socket")
    if run.get("status") != "running" or not path or not pid_alive(run.get("pid")):
        return None
    return Path(path) if os.path.exists(path) else None


def find_live_run(db: str | Path, ref: str) -> tuple[dict[str, Any], Path]:
    """The run ``ref`` (an id, a prefix or `last`) and its socket; ClientError saying why
    there is none."""
    from engine.cli import AmbiguousRun, one_run

    if not Path(db).is_file():
        raise ClientError(f"no state database at {db}, so no run to attach to; pass --db")
    conn = sqlite3.connect(db, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        if ref == "last":
            rows = [dict(r) for r in conn.execute(LAST_LIVE).fetchall()]
            run = next((r for r in rows if live_socket(r) is not None), None)
            if run is None:
                raise ClientError(f"no live run in {db} to attach to; start one with "
                                  "`agentorch-tui start` (or the TUI)")
        else:
            try:
                run = one_run([dict(r) for r in conn.execute(*run_lookup(ref)).fetchall()], ref)
            except AmbiguousRun as exc:
                raise ClientError(str(exc)) from None
    except sqlite3.Error as exc:
        raise ClientError(f"cannot read the state database {db}: {exc}") from None
    finally:
        conn.close()
    if run is None:
        raise ClientError(f"no run {ref!r} in {db}; `agentorch-tui runs` lists them")
    path = live_socket(run)
    if path is None:
        raise ClientError(f"run {run['id']} is not live ({run['status']}): nothing to attach "
                          f"to; `agentorch-tui replay {run['id']}` plays it back, "
                          f"`--resume {run['id']}` continues it")
    return run, path
