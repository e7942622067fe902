"""The SQLite store: events in order, group commit, nothing lost across a clean stop."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from engine_support import make_team, run_to_end, start, step

from engine.events import Event
from memory.store import Store, StoreError


async def test_every_published_event_is_stored_in_order(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("run_command", command="seq 1 500"),
            step("send_message", to="b", text="hi", wait_reply=True)]},
        {"id": "b", "script": [step("wait_for_message"), step("reply", text="yo")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    rows = await store.events(engine.run_id)
    stored = [Event.from_row(*r) for r in rows]
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert [(e.seq, e.type, e.agent, e.data) for e in stored] == \
        [(e.seq, e.type, e.agent, e.data) for e in w.events]
    assert stored[0].type == "run_started" and stored[-1].type == "run_finished"
    await store.close()


async def test_group_commit_batches_many_writes_into_few_transactions(tmp_path):
    store = await Store.open(tmp_path / "s.db")
    for i in range(1, 20_001):
        store.append_event("r", i, 0.0, "console", "a", json.dumps({"i": i}))
    await store.flush()
    assert store.rows_written == 20_000
    assert store.commits <= 10, store.commits
    assert await store.last_seq("r") == 20_000
    await store.close()


async def test_clean_stop_loses_nothing_and_the_file_reopens(tmp_path):
    team = make_team(tmp_path, [{"id": f"a{i}", "script": [
        step("run_command", command="seq 1 200"), step("run_command", command="sleep 30")]}
        for i in range(5)])
    engine, w, store = await start(team, tmp_path)
    for i in range(5):
        await w.wait_for("console", f"a{i}", kind="command", text="sleep 30")
    await engine.stop()
    await asyncio.wait_for(w._task, 5)
    published = len(w.events)
    run_id = engine.run_id
    await store.close()
    # a fresh connection (as the next process would) sees every event and the run's state
    conn = sqlite3.connect(tmp_path / "state.db")
    count, max_seq = conn.execute("SELECT COUNT(*), MAX(seq) FROM events WHERE run_id=?",
                                  (run_id,)).fetchone()
    assert count == max_seq == published
    assert conn.execute("SELECT status FROM runs").fetchone() == ("stopped",)
    statuses = dict(conn.execute("SELECT id, status FROM agents WHERE run_id=?", (run_id,)))
    assert set(statuses.values()) == {"cancelled"}
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


async def test_store_open_error_is_clear(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the state database .*--db"):
        await Store.open(blocker / "state.db")


async def test_after_a_failed_write_flush_raises_the_real_error_and_nothing_piles_up(tmp_path):
    store = await Store.open(tmp_path / "s.db")
    failures = []
    store.on_failure = failures.append
    store.append_event("r", 1, 0.0, "console", "a", "{}")
    await store.flush()
    (tmp_path / "s.db").unlink()
    store.append_event("r", 2, 0.0, "console", "a", "{}")
    with pytest.raises(StoreError, match="s.db: the file was deleted"):
        await store.flush()
    assert len(failures) == 1 and store.failure is failures[0]
    for i in range(3, 1000):  # nothing more is kept in memory
        store.append_event("r", i, 0.0, "console", "a", "{}")
    assert len(store._pending) == 0
    with pytest.raises(StoreError):
        await asyncio.wait_for(store.flush(), 5)  # never waits for a writer that stopped
    await store.close()


async def test_a_sequence_conflict_is_an_error_not_an_overwrite(tmp_path):
    store = await Store.open(tmp_path / "s.db")
    store.append_event("r", 1, 0.0, "console", "a", json.dumps({"v": "first"}))
    await store.flush()
    store.append_event("r", 1, 0.0, "console", "a", json.dumps({"v": "second"}))
    with pytest.raises(StoreError, match="UNIQUE constraint failed"):
        await store.flush()
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT data FROM events").fetchall() == [('{"v": "first"}',)]
    conn.close()
    await store.close()


async def test_the_pending_queue_is_bounded_and_room_waits_for_the_writer(tmp_path):
    from memory.store import MAX_PENDING

    store = await Store.open(tmp_path / "s.db")
    for i in range(1, MAX_PENDING + 1):
        store.append_event("r", i, 0.0, "console", "a", "{}")
    assert store.backlogged
    await asyncio.wait_for(store.room(), 30)
    assert not store.backlogged
    await store.flush()
    assert await store.last_seq("r") == MAX_PENDING
    await store.close()


async def test_subscribers_see_an_event_only_once_it_is_committed(tmp_path):
    """Durable before visible: a second connection finds every event a subscriber got."""
    team = make_team(tmp_path, [
        {"id": f"a{i}", "script": [step("run_command", command="seq 1 300"),
                                    step("report_progress", text="half"),
                                    step("write_file", path="f.txt", content="x")]}
        for i in range(4)])
    store = await Store.open(tmp_path / "state.db")
    from engine.run import Engine

    engine = Engine(team, store)
    sub = engine.bus.subscribe(maxsize=4)  # a slow consumer, too
    peek = sqlite3.connect(tmp_path / "state.db")
    missing: list[int] = []
    seen = 0

    async def check() -> None:
        nonlocal seen
        async for event in sub:
            seen += 1
            row = peek.execute("SELECT type FROM events WHERE run_id=? AND seq=?",
                               (event.run_id, event.seq)).fetchone()
            if row != (event.type,):
                missing.append(event.seq)
    checker = asyncio.create_task(check())
    await engine.start()
    await asyncio.wait_for(engine.wait(), 30)
    await asyncio.wait_for(checker, 10)
    peek.close()
    await store.close()
    assert seen > 50 and missing == []
