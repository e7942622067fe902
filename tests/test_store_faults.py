"""The store either writes or stops the run: real faults on a real SQLite file.

Each test starts a headless run in a subprocess, breaks its database the way a
user's machine does (a full disk, an immutable file, another process holding
the write lock, the file deleted), and checks that the run stops at once with
the real error and a non-zero exit, that nothing more runs, and that the run
resumes from what was committed without running a recorded step twice.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from crash_support import HeadlessRun

TEAM = """\
name: faulty
sandbox: {{backend: local}}
defaults: {{model: scripted}}
agents:
  - id: a
    script:
      - {{tool: run_command, args: {{command: "echo one >> {log}"}}}}
{middle}
      - {{tool: run_command, args: {{command: "echo last >> {log}"}}}}
      - {{tool: finish, args: {{summary: done}}}}
"""
TICKS = "\n".join('      - {tool: run_command, args: {command: "sleep 0.05"}}'
                  for _ in range(60))
FLOOD = ('      - {tool: run_command, args: {command: '
         '"head -c 3000000 /dev/zero | tr \'\\\\0\' x | fold -w 100"}}')


def write_team(tmp: Path, middle: str = TICKS) -> Path:
    log = tmp / "log"
    (tmp / "team.yaml").write_text(TEAM.format(log=log, middle=middle))
    return log


def start(tmp: Path, db: Path) -> HeadlessRun:
    return HeadlessRun(["team.yaml", "--headless", "--db", str(db)], tmp)


def ended(run: HeadlessRun) -> tuple[int, list[dict], str]:
    """Read to the end: the exit code, every event printed, stderr."""
    while run.next_event() is not None:
        pass
    rc = run.proc.wait(60)
    return rc, run.events, run.proc.stderr.read()


def assert_stopped_by_the_store(rc: int, events: list[dict], stderr: str, cause: str) -> None:
    assert rc == 1, stderr
    assert "Traceback" not in stderr and "rollback" not in stderr, stderr
    fatal = [e for e in events if e["type"] == "error" and e.get("fatal")]
    assert len(fatal) == 1 and cause in fatal[0]["text"], events[-3:]
    assert fatal[0]["recorded"] is False
    assert cause in stderr and "--resume" in stderr, stderr
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "failed"


def resume_to_end(tmp: Path, db: Path) -> int:
    run = HeadlessRun(["--resume", "last", "--headless", "--db", str(db)], tmp)
    run.proc.stdin.close()
    rc, _, stderr = ended(run)
    assert "Traceback" not in stderr, stderr
    return rc


def first_result(run: HeadlessRun) -> None:
    assert run.until(lambda e: e["type"] == "tool_result") is not None


def test_a_deleted_database_stops_the_run_and_says_so(tmp_path):
    log = write_team(tmp_path)
    db = tmp_path / "state.db"
    run = start(tmp_path, db)
    first_result(run)
    saved = tmp_path / "saved"
    saved.mkdir()
    for f in (p for p in tmp_path.glob("state.db*") if p.is_file()):  # a backup
        shutil.copy(f, saved / f.name)
    db.unlink()
    rc, events, stderr = ended(run)
    assert_stopped_by_the_store(rc, events, stderr, "deleted")
    assert log.read_text() == "one\n"


def test_a_database_replaced_mid_run_stops_it(tmp_path):
    write_team(tmp_path)
    db = tmp_path / "state.db"
    run = start(tmp_path, db)
    first_result(run)
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    os.replace(other, db)
    rc, events, stderr = ended(run)
    assert_stopped_by_the_store(rc, events, stderr, "replaced")


def test_a_write_lock_held_too_long_stops_the_run_and_it_resumes(tmp_path):
    log = write_team(tmp_path)
    db = tmp_path / "state.db"
    run = start(tmp_path, db)
    first_result(run)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        rc, events, stderr = ended(run)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_stopped_by_the_store(rc, events, stderr, "locked")
    before = log.read_text()
    assert before == "one\n"
    assert resume_to_end(tmp_path, db) == 0
    assert log.read_text() == "one\nlast\n"  # nothing recorded ran again


def test_an_immutable_database_stops_the_run(tmp_path):
    write_team(tmp_path)
    db = tmp_path / "state.db"
    run = start(tmp_path, db)
    first_result(run)
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        run.kill9()
        pytest.skip("chattr +i is not supported here")
    try:
        rc, events, stderr = ended(run)
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
    assert_stopped_by_the_store(rc, events, stderr, "read-only")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs (needs root and mount): a disk that fills."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_stops_the_run_and_it_resumes_elsewhere(tmp_path, small_disk):
    log = write_team(tmp_path, FLOOD)
    db = small_disk / "state.db"
    run = start(tmp_path, db)
    run.proc.stdin.close()
    rc, events, stderr = ended(run)
    assert_stopped_by_the_store(rc, events, stderr, "disk is full")
    assert "no transaction is active" not in stderr
    assert log.read_text() == "one\n"
    # every event shown was committed: the database holds each one the client saw
    conn = sqlite3.connect(db)
    stored = {s for (s,) in conn.execute("SELECT seq FROM events")}
    conn.close()
    seen = {e["seq"] for e in events if e.get("recorded") is not False}
    assert seen <= stored
    # moved to a bigger disk, the run goes on from what was committed
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in (p for p in small_disk.glob("state.db*") if p.is_file()):
        shutil.copy(f, moved / f.name)
    rc = resume_to_end(tmp_path, moved / "state.db")
    assert rc == 0
    assert log.read_text() == "one\nlast\n"


def test_the_error_event_is_json_the_client_can_read(tmp_path):
    write_team(tmp_path)
    db = tmp_path / "state.db"
    run = start(tmp_path, db)
    first_result(run)
    db.unlink()
    rc, events, _ = ended(run)
    assert rc == 1
    assert all(json.loads(json.dumps(e)) == e for e in events)


async def test_the_tui_shows_the_store_failure_and_how_to_go_on(tmp_path, monkeypatch):
    """On screen: the run ends `failed` with the real error and the resume command."""
    from textual.widgets import Static

    from tests.conftest_tui import app_for, wait_until
    from tests.conftest_tui import write_team as write_tui_team

    monkeypatch.chdir(tmp_path)
    team = {"name": "t", "sandbox": {"backend": "local"}, "agents": [
        {"id": "solo", "model": "scripted", "script": [
            {"tool": "run_command", "args": {"command": "sleep 0.05"}}] * 200}]}
    app = app_for(write_tui_team(tmp_path, team), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: any(a.tool_calls for a in s.agents.values()))
        (tmp_path / "state.db").unlink()
        await wait_until(pilot, lambda s: s.run_status == "failed")
        banner = str(app.query_one("#banner", Static).render())
        assert "deleted" in banner and "--resume" in banner, banner
        assert app.engine is not None and "deleted" in app.engine.failure_text()
