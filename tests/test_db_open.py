"""Opening a database never hangs nor shows a traceback; a closed stdout ends quietly.

Garbage, truncated, foreign and locked files for every command that reads the
database: one line naming the file and what to do, exit 1, and the process
ends.  Every subcommand whose stdout is closed ends with status 141 and no
traceback.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from crash_support import ROOT

CLI = [sys.executable, "-m", "tui"]
TEAM = """\
name: small
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: a
    script:
      - {tool: run_command, args: {command: "seq 1 20000"}}
      - {tool: finish, args: {summary: done}}
"""
READERS = [["runs"], ["events", "last"], ["export", "last"],
           ["--resume", "last", "--headless"]]


def cli(args: list[str], cwd, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=env, **kw)


@pytest.fixture(scope="module")
def good_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("good")
    (tmp / "team.yaml").write_text(TEAM)
    proc = cli(["team.yaml", "--headless", "--db", "s.db"], tmp)
    assert proc.returncode == 0, proc.stderr
    return tmp / "s.db"


def damaged(tmp_path, good_db, kind: str):
    db = tmp_path / f"{kind}.db"
    if kind == "garbage":
        db.write_bytes(os.urandom(20_000))
    else:  # truncated: half of a real database
        conn = sqlite3.connect(good_db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        data = good_db.read_bytes()
        db.write_bytes(data[:len(data) // 2])
    return db


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_a_damaged_database_is_one_line_with_the_recover_hint(tmp_path, good_db, kind, args):
    db = damaged(tmp_path, good_db, kind)
    proc = cli([*args, "--db", str(db)], tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "DatabaseError" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(db) in lines[0], proc.stderr
    assert f"sqlite3 {db} .recover" in lines[0]
    assert "no run 'last'" not in lines[0]


def test_resume_last_tells_no_runs_from_no_database(tmp_path):
    sqlite3.connect(tmp_path / "empty.db").close()
    proc = cli(["--resume", "last", "--headless", "--db", "empty.db"], tmp_path)
    assert proc.returncode == 1 and "there are no runs in empty.db" in proc.stderr
    proc = cli(["--resume", "last", "--headless", "--db", "absent.db"], tmp_path)
    assert proc.returncode == 1 and "no state database at absent.db" in proc.stderr


def test_a_locked_database_is_refused_after_a_bounded_wait(tmp_path, good_db):
    db = tmp_path / "locked.db"
    db.write_bytes(good_db.read_bytes())
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc = cli(["runs", "--db", str(db)], tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 1, proc.stderr
    assert "locked" in proc.stderr and str(db) in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["runs"], ["events", "last"], ["export", "last"],
                                  ["schema"], ["check", "agents.yaml"]], ids=lambda a: a[0])
def test_a_closed_stdout_ends_every_subcommand_quietly(good_db, args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    extra = ["--db", str(good_db)] if args[0] in ("runs", "events", "export") else []
    if args[0] == "check":
        args = ["check", str(ROOT / "agents.yaml")]
    proc = subprocess.Popen([*CLI, *args, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            cwd=good_db.parent)
    proc.stdout.close()  # like `| head -0`: nobody reads
    stderr = proc.stderr.read().decode()
    assert proc.wait(60) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
