"""Finding a recorded run for the command line: by id, prefix or `last`, with or
without an event loop, and opening the state database with one clear line on failure."""

from __future__ import annotations

from pathlib import Path

from engine.cli_errors import err
from memory.store import Store, StoreError, run_lookup


def find_run_sync(db: str, ref: str, newest: bool = False) -> dict | None:
    """Look a run up without an event loop (the TUI needs the team before it starts).

    None when there is no such run; StoreError when the file cannot be read.
    """
    import sqlite3

    from memory.database import BUSY_TIMEOUT_MS, advice

    if not Path(db).is_file():
        return None
    conn = None
    try:
        conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        query = (LAST_RESUMABLE, ()) if ref == "last" and not newest else run_lookup(ref)
        rows = [dict(r) for r in conn.execute(*query).fetchall()]
    except sqlite3.Error as exc:
        if "no such table" in str(exc):  # an empty or foreign database: no runs in it
            return None
        raise StoreError(f"cannot read the state database {db}: {exc}; "
                         f"{advice(exc).replace('FILE', db)}") from None
    finally:
        if conn is not None:
            conn.close()
    return one_run(rows, ref)


#: `--resume last`: the newest run that may go on (not finished, not failed before any
#: agent started)
LAST_RESUMABLE = (
    "SELECT * FROM runs WHERE status != 'finished' AND (status != 'failed' OR EXISTS ("
    "SELECT 1 FROM events e WHERE e.run_id = runs.id AND e.type = 'tool_call')) "
    "ORDER BY started DESC LIMIT 1")


class AmbiguousRun(ValueError):
    """A prefix matches more than one run."""


def one_run(rows: list[dict], ref: str) -> dict | None:
    """The run ``ref`` names among ``rows`` (newest first); AmbiguousRun when a prefix
    matches several."""
    exact = [r for r in rows if r["id"] == ref]
    if exact or len(rows) <= 1 or ref == "last":
        return (exact or rows or [None])[0]
    shown = ", ".join(r["id"] for r in rows[:8]) + (f" and {len(rows) - 8} more"
                                                     if len(rows) > 8 else "")
    raise AmbiguousRun(f"{ref!r} matches {len(rows)} runs: {shown}; give more of the id "
                       "(or `last`)")



async def open_existing(db: str) -> Store | None:
    if not Path(db).exists():
        err(f"no state database at {db}; run a team first or pass --db")
        return None
    try:
        return await Store.open(db)
    except StoreError as exc:
        err(str(exc))
        return None



async def recorded_run(db: str, run_id: str) -> tuple[dict, list] | None:
    """A past run and its events, or None after saying what is wrong."""
    from engine.events import Event

    async def collect(run: dict, store) -> tuple[dict, list]:
        events = []
        async for rows in store.iter_events(run["id"]):
            events.extend(Event.from_row(*row) for row in rows)
        return run, events

    return await with_recorded_run(db, run_id, collect)


async def with_recorded_run(db: str, run_id: str, use):
    """Open ``db``, find ``run_id`` and return ``await use(run, store)``; None after saying
    what is wrong (no such run, an ambiguous prefix, a newer events version)."""
    from engine.events import newer_events_problem

    store = await open_existing(db)
    if store is None:
        return None
    try:
        try:
            run = one_run([dict(r) for r in await store.query(*run_lookup(run_id))], run_id)
        except AmbiguousRun as exc:
            err(str(exc))
            return None
        if run is None:
            err(f"no run {run_id!r} in {db}; `agentorch-tui runs` lists them")
            return None
        if newer_events_problem(run):
            err(newer_events_problem(run))
            return None
        return await use(run, store)
    finally:
        await store.close()
