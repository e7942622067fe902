"""The SQLite file itself: opening it, one transaction of writes, and what a failure means.

Everything here runs in the store's own thread (memory/store.py) on one plain
``sqlite3`` connection.  Failures become :class:`StoreError` with one sentence
that names the file and says what to do.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from memory.text_safety import clean_value

#: how long a write waits for another process's lock before the run stops
BUSY_TIMEOUT_MS = 5000

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

#: the schema's version (SQLite's user_version); files written before versions are 0
SCHEMA_VERSION = 2
#: what takes a file from version N-1 to N (0 -> 1: the first versioned schema, the
#: tables of the release before it unchanged; the run lock lives beside the file;
#: 1 -> 2: a live run's control socket, so `runs` and `attach` find it)
MIGRATIONS: dict[int, str] = {1: "", 2: "ALTER TABLE runs ADD COLUMN socket TEXT;"}

#: a transaction: (statement, rows) pairs, each run with executemany
Plan = list[tuple[str, list[tuple]]]
#: (st_dev, st_ino) of the database file when it was opened
Identity = tuple[int, int]


class StoreError(Exception):
    """The database cannot be opened or written (one clear sentence)."""


def advice(exc: BaseException) -> str:
    """What a person can do about ``exc`` (a failed open or write)."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if "full" in text or code == errno.ENOSPC:
        return "the disk is full: free some space (or pass --db on another disk)"
    if "locked" in text or "busy" in text:
        return ("another process held its lock for more than "
                f"{BUSY_TIMEOUT_MS // 1000} s: close it (another agentorch or sqlite3?)")
    if "readonly" in text or "read-only" in text or code in (errno.EROFS, errno.EACCES,
                                                             errno.EPERM):
        return "the file or its directory is not writable: make it writable (or pass --db)"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return ("the file is damaged: move it away and start afresh, or try to rescue it with "
                "`sqlite3 FILE .recover | sqlite3 rescued.db`")
    if "disk i/o" in text or code == errno.EIO:
        return "the disk reported an I/O error: check the disk and the file"
    return "check the file and the disk it is on (or pass another --db)"


def connect(path: Path) -> tuple[sqlite3.Connection, Identity]:
    """Open (creating) the database in WAL mode; closes what it opened on any failure."""
    conn: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        conn.execute("SELECT COUNT(*) FROM runs").fetchone()  # reads what it claims to be
        migrate(conn, path)
        st = os.stat(path)
    except StoreError:
        if conn is not None:
            conn.close()
        raise
    except (OSError, sqlite3.Error) as exc:
        if conn is not None:
            conn.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(f"cannot open the state database {path}: {reason}; "
                         f"{advice(exc).replace('FILE', str(path))}") from None
    return conn, (st.st_dev, st.st_ino)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring an older file up to SCHEMA_VERSION; refuse a newer one."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"the state database {path} was written by a newer agentorch "
                         f"(schema {version}; this one knows {SCHEMA_VERSION}): upgrade "
                         "agentorch, or pass another --db")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # one statement at a time: executescript would commit the transaction first,
            # and a crash before user_version would run the migration twice
            for statement in filter(None, (s.strip() for s in MIGRATIONS[target].split(";"))):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={target}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def check_file(path: Path, identity: Identity) -> None:
    """Raise OSError when the file was deleted, replaced or made read-only under us.

    SQLite would go on writing to a deleted file (or, in WAL mode, to the log of
    an immutable one) and lose it all at the end: this makes that a failure.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise OSError(errno.ENOENT, "the file was deleted while the run used it") from None
    if (st.st_dev, st.st_ino) != identity:
        raise OSError(errno.ENOENT, "the file was replaced by another while the run used it")
    if not os.access(path, os.W_OK):
        raise OSError(errno.EROFS, "the file became read-only while the run used it")


def commit(conn: sqlite3.Connection, plan: Plan, path: Path, identity: Identity) -> None:
    """One transaction (in the store's thread).  Raises the original error, never the
    failed ROLLBACK's (SQLite rolls back by itself on a full disk, for one)."""
    check_file(path, identity)
    try:
        _transaction(conn, plan)
    except UnicodeEncodeError:  # a lone surrogate slipped through: store U+FFFD instead
        _transaction(conn, [(sql, [clean_value(p) for p in params]) for sql, params in plan])


def _transaction(conn: sqlite3.Connection, plan: Plan) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in plan:
            conn.executemany(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


def fetch(conn: sqlite3.Connection, sql: str, params: tuple) -> list[sqlite3.Row]:
    cur = conn.execute(sql, params)
    try:
        return list(cur.fetchall())
    finally:
        cur.close()
