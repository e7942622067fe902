"""One writer per run: a second resume of a run that is going on is refused."""

from __future__ import annotations

import socket

import pytest
from crash_support import check_final, final_state, resume, setup, start

from memory.run_lock import RunLock, RunLocked, held_runs


def test_two_resumes_at_once_one_runs_the_other_is_refused(tmp_path):
    setup(tmp_path)
    run = start(tmp_path)
    run.until(lambda e: e["type"] == "console" and e.get("kind") == "command")
    run.kill9()
    first, second = resume(tmp_path), resume(tmp_path)
    codes = {}
    for name, r in (("first", first), ("second", second)):
        line = r.proc.stdout.readline()
        codes[name] = line
    # exactly one prints events; the other exits 1 naming the holder
    runners = [r for r, line in ((first, codes["first"]), (second, codes["second"])) if line]
    losers = [r for r, line in ((first, codes["first"]), (second, codes["second"])) if not line]
    assert len(runners) == 1 and len(losers) == 1
    loser = losers[0]
    assert loser.proc.wait(60) == 1
    err = loser.proc.stderr.read()
    assert "is already running in process" in err and socket.gethostname() in err, err
    assert "Traceback" not in err
    winner = runners[0]
    winner.events.clear()
    assert winner.finish() == 0
    assert check_final(final_state(tmp_path)) == []


def test_the_lock_names_its_holder_and_is_free_after_release(tmp_path):
    held = RunLock.acquire(tmp_path / "s.db", "r1")
    with pytest.raises(RunLocked, match=r"run r1 is already running in process \d+ on "):
        RunLock.acquire(tmp_path / "s.db", "r1")
    other = RunLock.acquire(tmp_path / "s.db", "r2")  # other runs are free
    assert held_runs(tmp_path / "s.db") == {"r1", "r2"}
    held.release()
    again = RunLock.acquire(tmp_path / "s.db", "r1")
    again.release()
    other.release()
    assert not (tmp_path / "s.db").exists()  # never a lock on the database file
