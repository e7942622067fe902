"""The durable store: SQLite in WAL mode through aiosqlite, with group commit.

All writes go through one writer task that drains a queue and commits whatever
accumulated in one transaction, so hundreds of agents never queue behind one
fsync each.  ``flush()`` returns once everything enqueued before it is committed.

This module knows nothing of the engine's types: it stores rows.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiosqlite

DEFAULT_DB = Path(".agentorch/state.db")
BATCH_LIMIT = 5000
#: How long the writer lets writes gather before a commit when the queue is
#: short: at most ~1/COMMIT_WINDOW commits per second, at most this much
#: extra delay before a write is durable (PostgreSQL's commit_delay idea).
COMMIT_WINDOW = 0.002

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    config_path TEXT,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    agents TEXT NOT NULL DEFAULT '[]',
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    type TEXT NOT NULL,
    agent TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agents (
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,
    steps_done INTEGER NOT NULL DEFAULT 0,
    conversation TEXT,
    usage TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS messages (
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    reply_to TEXT,
    ts REAL NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (run_id, id, recipient)
);
CREATE TABLE IF NOT EXISTS interrupts (
    run_id TEXT NOT NULL,
    id TEXT NOT NULL,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    blocking INTEGER NOT NULL,
    created REAL NOT NULL,
    answer TEXT,
    answered REAL,
    PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS usage (
    run_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    ts REAL NOT NULL,
    model TEXT,
    input_tokens INTEGER, output_tokens INTEGER,
    cache_read_tokens INTEGER, cache_write_tokens INTEGER,
    cost REAL
);
"""


def _plan(batch: list[tuple]) -> list[tuple[str, list[tuple]]]:
    """The statements of one transaction: events in one executemany, the other
    statements in order, consecutive identical ones merged."""
    plan: list[tuple[str, list[tuple]]] = []
    events = [op[1] for op in batch if op[0] == "event"]
    if events:
        plan.append(("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?)", events))
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


def _run_plan(conn, plan: list[tuple[str, list[tuple]]]) -> None:
    """Runs in aiosqlite's thread: one transaction."""
    conn.execute("BEGIN")
    try:
        for sql, params in plan:
            conn.executemany(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def run_lookup(ref: str) -> tuple[str, tuple]:
    """The query for a run by id, id prefix, or `last` (newest first)."""
    if ref == "last":
        return "SELECT * FROM runs ORDER BY started DESC LIMIT 1", ()
    return "SELECT * FROM runs WHERE id=? OR id LIKE ? ORDER BY started DESC", (ref, ref + "%")


class StoreError(Exception):
    """The database cannot be opened or written (one clear sentence)."""


class Store:
    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self._conn = conn
        # a plain deque plus a wake-up event: appending is the hot path of every
        # event, and asyncio.Queue costs several times more per item
        self._pending: collections.deque[tuple] = collections.deque()
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name="store-writer")
        self._closed = False
        self.commits = 0
        self.rows_written = 0

    @classmethod
    async def open(cls, path: str | Path = DEFAULT_DB) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.executescript(SCHEMA)
        except (OSError, aiosqlite.Error) as exc:
            raise StoreError(f"cannot open the state database {path}: {exc}; "
                             "pass another path with --db") from None
        return cls(path, conn)

    # -- writes (enqueued, group-committed) ---------------------------------
    def append_event(self, run_id: str, seq: int, ts: float, type: str, agent: str | None,
                     data: str, with_sql: list[tuple[str, tuple]] | None = None) -> None:
        """Enqueue an event; ``with_sql`` statements commit in the same transaction."""
        self._pending.append(("event", (run_id, seq, ts, type, agent, data), with_sql))
        if not self._wake.is_set():
            self._wake.set()

    def execute(self, sql: str, params: tuple = ()) -> None:
        self._enqueue(("sql", sql, params))

    def execute_group(self, statements: list[tuple[str, tuple]]) -> None:
        """Enqueue statements that must commit together (one queue item is never split)."""
        self._enqueue(("group", statements))

    async def flush(self) -> None:
        if self._writer.done():
            self._raise_writer_error()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(("flush", fut))
        await fut

    def _raise_writer_error(self) -> None:
        if not self._writer.cancelled() and self._writer.exception() is not None:
            raise StoreError(f"the store writer stopped: {self._writer.exception()}")

    def _enqueue(self, op: tuple) -> None:
        self._pending.append(op)
        if not self._wake.is_set():
            self._wake.set()

    async def _write_loop(self) -> None:
        pending = self._pending
        while True:
            while not pending:
                self._wake.clear()
                await self._wake.wait()
            first = pending[0]
            if first[0] != "flush" and first[0] != "stop" and len(pending) < 64:
                await asyncio.sleep(COMMIT_WINDOW)  # let a group gather
            batch = [pending.popleft() for _ in range(min(len(pending), BATCH_LIMIT))]
            waiters = [op[1] for op in batch if op[0] == "flush"]
            stop = any(op[0] == "stop" for op in batch)
            try:
                await self._commit(batch)
            except Exception as exc:  # resolve waiters before dying
                print(f"agentorch: the state database {self.path} could not be written: {exc}",
                      file=sys.stderr)
                for fut in waiters:
                    if not fut.done():
                        fut.set_exception(StoreError(f"write to {self.path} failed: {exc}"))
                raise
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
            if stop:
                return

    async def _commit(self, batch: list[tuple]) -> None:
        plan = _plan(batch)
        if not plan:
            return
        # The whole transaction in one trip to aiosqlite's thread (its internal
        # `_execute` on its sqlite3 connection; aiosqlite is pinned for that):
        # each trip costs the event loop a wake-up, and a commit used to take four.
        await self._conn._execute(_run_plan, self._conn._conn, plan)
        self.commits += 1
        self.rows_written += sum(1 for op in batch if op[0] in ("event", "sql", "group"))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._writer.done():
            self._enqueue(("stop",))
            try:
                await self._writer
            except Exception:
                pass
        await self._conn.close()

    # -- runs ------------------------------------------------------------------
    def create_run(self, run_id: str, team: str, config_path: str | None,
                   agents: list[str], meta: dict[str, Any]) -> None:
        self.execute(
            "INSERT OR REPLACE INTO runs (id, team, config_path, started, status, pid, host,"
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
    async def query(self, sql: str, params: tuple = ()) -> list[aiosqlite.Row]:
        self._conn.row_factory = aiosqlite.Row
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

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

    async def last_seq(self, run_id: str) -> int:
        rows = await self.query("SELECT COALESCE(MAX(seq),0) FROM events WHERE run_id=?",
                                (run_id,))
        return int(rows[0][0])
