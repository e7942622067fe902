"""A database written by the previous release (tests/fixtures/previous_release.db: the
crash team killed -9 while b's command ran, recorded before schema and event versions)
opens, is migrated, lists, exports, and resumes to the end; newer files and runs are
refused in one sentence."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from crash_support import CRASH_TEAM, ROOT, check_final, final_state, resume

from memory.database import SCHEMA_VERSION

FIXTURE = Path(__file__).parent / "fixtures" / "previous_release.db"


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def old_db(tmp: Path) -> Path:
    """The fixture where the test runs: its recorded paths pointed at ``tmp``."""
    (tmp / "team.yaml").write_text(CRASH_TEAM)
    db = tmp / "state.db"
    shutil.copy(FIXTURE, db)
    conn = sqlite3.connect(db)
    (meta,) = conn.execute("SELECT meta FROM runs").fetchone()
    meta = {**json.loads(meta), "base_dir": str(tmp)}
    conn.execute("UPDATE runs SET meta=?, config_path=?", (json.dumps(meta),
                                                           str(tmp / "team.yaml")))
    conn.commit()
    conn.close()
    return db


def test_the_previous_releases_database_migrates_lists_exports_and_resumes(tmp_path):
    db = old_db(tmp_path)
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone() == (0,)
    runs = cli(["runs", "--db", "state.db"], tmp_path)
    assert runs.returncode == 0 and "crashed" in runs.stdout and "resumable" in runs.stdout
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    events = cli(["events", "last", "--db", "state.db"], tmp_path)
    assert events.returncode == 0 and len(events.stdout.splitlines()) == 24
    export = cli(["export", "last", "--db", "state.db"], tmp_path)
    assert export.returncode == 0 and "crashy" in export.stdout
    run = resume(tmp_path)
    assert run.finish() == 0, run.proc.stderr.read()
    assert check_final(final_state(tmp_path)) == []


def test_a_newer_schema_is_refused_in_one_sentence(tmp_path):
    db = old_db(tmp_path)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    for args in (["runs"], ["events", "last"], ["--resume", "last", "--headless"]):
        proc = cli([*args, "--db", "state.db"], tmp_path)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "written by a newer agentorch (schema 99" in proc.stderr, proc.stderr


def test_a_run_recorded_by_newer_events_is_refused_in_one_sentence(tmp_path):
    db = old_db(tmp_path)
    conn = sqlite3.connect(db)
    (meta,) = conn.execute("SELECT meta FROM runs").fetchone()
    conn.execute("UPDATE runs SET meta=?", (json.dumps({**json.loads(meta),
                                                        "events_version": 7}),))
    conn.commit()
    conn.close()
    for args in (["events", "last"], ["export", "last"], ["--resume", "last", "--headless"]):
        proc = cli([*args, "--db", "state.db"], tmp_path)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "recorded by a newer agentorch (events version 7" in proc.stderr, proc.stderr
