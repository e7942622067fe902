"""The durable store: SQLite in WAL mode, written by one thread with group commit.

All writes go through one writer task that drains a queue and commits whatever
accumulated in one transaction, so hundreds of agents never queue behind one
commit each.  There is no commit window: when the writer is idle a write is
committed at once; under load the writes that arrive during one commit form the
next one.  ``flush()`` returns once everything enqueued before it is committed.

Two rules the engine builds on:

* **Durable before visible.**  An event carries a token (the engine's Event);
  ``on_commit`` gets the tokens of each transaction only after it committed, in
  order, so subscribers never see what a crash could take back.
* **Write or stop.**  A failed commit (disk full, read-only, locked past the busy
  timeout, the file deleted or replaced) is never retried nor ignored: the store
  keeps the original error in ``failure``, drops what was not committed, fails
  every ``flush()`` and calls ``on_failure`` once; the engine then stops the run.

The queue is bounded: ``room()`` waits while ``MAX_PENDING`` writes, or events of
``MAX_PENDING_CHARS`` characters, wait (a flood of large events must not fill memory).
This module knows nothing of the engine's types: it stores rows.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from memory.database import Identity, Plan, StoreError, advice, commit, connect, fetch

DEFAULT_DB = Path(".agentorch/state.db")
BATCH_LIMIT = 5000
#: writes waiting for the writer before producers wait for room (back-pressure)
MAX_PENDING = 20_000
#: characters of event data waiting (and taken into one transaction) at most
MAX_PENDING_CHARS = 4 * 1024 * 1024

__all__ = ["DEFAULT_DB", "Store", "StoreError", "run_lookup"]


def _plan(batch: list[tuple]) -> Plan:
    """The statements of one transaction: events in one executemany, the other
    statements in order, consecutive identical ones merged."""
    plan: Plan = []
    events = [op[1] for op in batch if op[0] == "event"]
    if events:  # inserted, never replaced: a sequence conflict is an error
        plan.append(("INSERT INTO events VALUES (?,?,?,?,?,?)", events))
    for op in batch:
        if op[0] == "sql":
            statements = [(op[1], op[2])]
        elif op[0] == "group":
            statements = op[1]
        elif op[0] == "event" and op[2]:
            statements = op[2]
        else:
            continue
        for stmt, args in statements:
            if plan and plan[-1][0] == stmt and len(plan) > (1 if events else 0):
                plan[-1][1].append(args)
            else:
                plan.append((stmt, [args]))
    return plan


def run_lookup(ref: str) -> tuple[str, tuple]:
    """The query for a run by id, id prefix, or `last` (newest first)."""
    if ref == "last":
        return "SELECT * FROM runs ORDER BY started DESC LIMIT 1", ()
    return "SELECT * FROM runs WHERE id=? OR id LIKE ? ORDER BY started DESC", (ref, ref + "%")


class Store:
    def __init__(self, path: Path, conn: sqlite3.Connection, identity: Identity,
                 thread: ThreadPoolExecutor) -> None:
        self.path = path
        self._db = conn
        self._identity = identity
        self._thread = thread  # the one thread that touches the connection
        # a plain deque plus a wake-up event: appending is the hot path of every
        # event, and asyncio.Queue costs several times more per item
        self._pending: collections.deque[tuple] = collections.deque()
        self._pending_chars = 0  # of the event data in _pending
        self._wake = asyncio.Event()
        self._room: collections.deque[asyncio.Future[None]] = collections.deque()
        #: called with the tokens of each committed transaction, in order (may
        #: return an awaitable: the writer waits for it, which is back-pressure)
        self.on_commit: Callable[[list[Any]], Awaitable[None] | None] | None = None
        #: called once with the StoreError when a write failed
        self.on_failure: Callable[[StoreError], None] | None = None
        self.failure: StoreError | None = None
        self._writer = asyncio.create_task(self._write_loop(), name="store-writer")
        self._writer.add_done_callback(self._writer_ended)
        self._closed = False
        self.commits = 0
        self.rows_written = 0

    @classmethod
    async def open(cls, path: str | Path = DEFAULT_DB) -> Store:
        """Open (or create) the database; a StoreError names the file and what to do."""
        path = Path(path)
        thread = ThreadPoolExecutor(1, thread_name_prefix="agentorch-store")
        try:
            conn, identity = await asyncio.get_running_loop().run_in_executor(
                thread, connect, path)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        conn.row_factory = sqlite3.Row
        return cls(path, conn, identity, thread)

    # -- writes (enqueued, group-committed) ---------------------------------
    def append_event(self, run_id: str, seq: int, ts: float, type: str, agent: str | None,
                     data: str, with_sql: list[tuple[str, tuple]] | None = None,
                     token: Any = None) -> None:
        """Enqueue an event; ``with_sql`` statements commit in the same transaction;
        ``token`` goes to ``on_commit`` once they have."""
        if self.failure is None:
            self._pending.append(("event", (run_id, seq, ts, type, agent, data), with_sql,
                                  token))
            self._pending_chars += len(data)
            if not self._wake.is_set():
                self._wake.set()

    def execute(self, sql: str, params: tuple = ()) -> None:
        self._enqueue(("sql", sql, params))

    def execute_group(self, statements: list[tuple[str, tuple]]) -> None:
        """Enqueue statements that must commit together (one queue item is never split)."""
        self._enqueue(("group", statements))

    @property
    def backlogged(self) -> bool:
        return len(self._pending) >= MAX_PENDING or self._pending_chars >= MAX_PENDING_CHARS

    async def room(self) -> None:
        """Wait while the queue is full; raises the StoreError once writing failed."""
        while self.backlogged and self.failure is None and not self._writer.done():
            fut = asyncio.get_running_loop().create_future()
            self._room.append(fut)
            await fut
        self._raise_failure()

    async def flush(self) -> None:
        """Wait until everything enqueued so far is committed (and handed to ``on_commit``).

        Raises StoreError if it cannot be: it never waits for a writer that stopped.
        """
        self._raise_failure()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(("flush", fut))
        self._wake.set()
        await fut

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self._writer.done():
            raise StoreError(f"the state database {self.path} is closed")

    def _enqueue(self, op: tuple) -> None:
        if self.failure is None:  # after a failure nothing more is kept in memory
            self._pending.append(op)
            if not self._wake.is_set():
                self._wake.set()

    async def _write_loop(self) -> None:
        pending = self._pending
        while True:
            while not pending:
                self._wake.clear()
                await self._wake.wait()
            batch = self._take_batch()
            self._wake_room()
            try:
                await self._commit(batch)
            except Exception as exc:
                self._fail(exc, batch)
                return
            if self.on_commit is not None:
                tokens = [op[3] for op in batch if op[0] == "event" and op[3] is not None]
                if tokens:
                    waiting = self.on_commit(tokens)
                    if waiting is not None:
                        await waiting
            stop = False
            for op in batch:
                if op[0] == "flush":
                    if not op[1].done():
                        op[1].set_result(None)
                elif op[0] == "stop":
                    stop = True
            if stop:
                return

    def _take_batch(self) -> list[tuple]:
        """The next transaction: at most BATCH_LIMIT writes and MAX_PENDING_CHARS of events."""
        pending, batch, chars = self._pending, [], 0
        while pending and len(batch) < BATCH_LIMIT and chars < MAX_PENDING_CHARS:
            op = pending.popleft()
            batch.append(op)
            if op[0] == "event":
                chars += len(op[1][5])
        self._pending_chars -= chars
        return batch

    def _wake_room(self) -> None:
        while self._room and not self.backlogged:
            fut = self._room.popleft()
            if not fut.done():
                fut.set_result(None)

    async def _commit(self, batch: list[tuple]) -> None:
        plan = _plan(batch)
        if not plan:
            return
        # the whole transaction in one trip to the store's thread
        await asyncio.get_running_loop().run_in_executor(
            self._thread, commit, self._db, plan, self.path, self._identity)
        self.commits += 1
        self.rows_written += sum(1 for op in batch if op[0] in ("event", "sql", "group"))

    def _fail(self, exc: BaseException, batch: list[tuple]) -> None:
        """A write failed: keep the original error, release every waiter, tell the engine."""
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        self.failure = StoreError(
            f"cannot write the state database {self.path}: {reason}; "
            f"{advice(exc).replace('FILE', str(self.path))}")
        self._release(batch)
        if self.on_failure is not None:
            self.on_failure(self.failure)

    def _release(self, batch: list[tuple]) -> None:
        error = self.failure or StoreError(f"the state database {self.path} is closed")
        for op in [*batch, *self._pending]:
            if op[0] == "flush" and not op[1].done():
                op[1].set_exception(error)
        self._pending.clear()
        self._pending_chars = 0
        while self._room:
            fut = self._room.popleft()
            if not fut.done():
                fut.set_result(None)  # room() then raises

    def _writer_ended(self, task: asyncio.Task) -> None:
        """However the writer ended (a bug, cancelled), nobody waits for it forever."""
        if task.cancelled() or task.exception() is not None:
            self._release([])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._writer.done():
            self._pending.append(("stop",))
            self._wake.set()
            try:
                await self._writer
            except Exception:
                pass
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
        finally:
            self._thread.shutdown(wait=False)

    # -- runs ------------------------------------------------------------------
    def create_run(self, run_id: str, team: str, config_path: str | None,
                   agents: list[str], meta: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO runs (id, team, config_path, started, status, pid, host,"
            " agents, meta) VALUES (?,?,?,?,?,?,?,?,?)",
            (run_id, team, config_path, time.time(), "running", os.getpid(),
             socket.gethostname(), json.dumps(agents), json.dumps(meta)),
        )

    def reopen_run(self, run_id: str) -> None:
        self.execute("UPDATE runs SET status='running', finished=NULL, pid=?, host=? WHERE id=?",
                     (os.getpid(), socket.gethostname(), run_id))

    def finish_run(self, run_id: str, status: str) -> None:
        self.execute("UPDATE runs SET status=?, finished=? WHERE id=?",
                     (status, time.time(), run_id))

    # -- reads -----------------------------------------------------------------
    async def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Rows of a read; a damaged or unreadable file is a StoreError naming it."""
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._thread, fetch, self._db, sql, params)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read the state database {self.path}: {exc}; "
                             f"{advice(exc).replace('FILE', str(self.path))}") from None

    async def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.query(
            "SELECT r.*, (SELECT COALESCE(SUM(cost),0) FROM usage u WHERE u.run_id=r.id) AS cost,"
            " (SELECT COALESCE(SUM(input_tokens+output_tokens+cache_read_tokens"
            "+cache_write_tokens),0) FROM usage u WHERE u.run_id=r.id) AS tokens"
            " FROM runs r ORDER BY started DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    async def run(self, run_id: str) -> dict[str, Any] | None:
        rows = await self.query(*run_lookup(run_id))
        return dict(rows[0]) if rows else None

    async def events(self, run_id: str) -> list[tuple]:
        rows = await self.query(
            "SELECT run_id, seq, ts, type, agent, data FROM events WHERE run_id=? ORDER BY seq",
            (run_id,))
        return [tuple(r) for r in rows]

    async def iter_events(self, run_id: str, batch: int = 2000):
        """A run's events in order, a batch at a time (memory stays flat however long the
        run): keyset pages on (run_id, seq)."""
        after = -1
        while True:
            rows = await self.query(
                "SELECT run_id, seq, ts, type, agent, data FROM events WHERE run_id=? AND seq>?"
                " ORDER BY seq LIMIT ?", (run_id, after, batch))
            if not rows:
                return
            yield [tuple(r) for r in rows]
            after = rows[-1][1]

    async def last_seq(self, run_id: str) -> int:
        rows = await self.query("SELECT COALESCE(MAX(seq),0) FROM events WHERE run_id=?",
                                (run_id,))
        return int(rows[0][0])
