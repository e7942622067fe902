"""Randomized crash sweep: kill -9 a headless run at random moments, resume, compare.

Each trial starts the crash team (tests/crash_support.py), kills it with SIGKILL
after a random delay, resumes it (possibly killing it again), lets it finish,
and checks that the final state equals an uninterrupted run's: every message
exactly once, every interrupt answered exactly once, all agents done, the event
log contiguous and the database intact.

With ``--every-boundary`` it runs the boundary team instead and kills it right
after each event a client reads (no delay), once per event: what was shown is
in the database, commands ran at most once, answers reached their own question.

Usage: python benchmarks/crash_sweep.py [--trials 100] [--seed 1] [--max-kills 3]
       python benchmarks/crash_sweep.py --every-boundary
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from crash_support import (  # noqa: E402
    boundary_events,
    boundary_trial,
    check_final,
    final_state,
    resume,
    setup,
    start,
)


def has_run(tmp: Path) -> bool:
    db = tmp / "state.db"
    if not db.exists():
        return False
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] > 0
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def trial(tmp: Path, rng: random.Random, max_kills: int) -> tuple[list[str], int]:
    setup(tmp)
    run = start(tmp)
    kills = 0
    for _ in range(rng.randint(1, max_kills)):
        delay = rng.uniform(0.05, 3.5)
        deadline = time.monotonic() + delay
        ended = False
        while time.monotonic() < deadline:
            e = run.next_event()
            if e is None or e["type"] == "run_finished":
                ended = True
                break
            if e["type"] == "interrupt" and e["kind"] == "user_input":
                run.send({"type": "answer", "interrupt": e["id"], "text": "yes"})
        if ended:
            break
        run.kill9()
        kills += 1
        # killed before the run was even recorded: a person would just start again
        run = resume(tmp) if has_run(tmp) else start(tmp)
    if not (run.events and run.events[-1]["type"] == "run_finished"):
        try:
            run.finish(timeout=90)
        except AssertionError:
            pass
    run.proc.wait(30)
    return check_final(final_state(tmp)), kills


def every_boundary() -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        total = boundary_events(Path(d))
    failures = 0
    for n in range(1, total):
        with tempfile.TemporaryDirectory() as d:
            problems, _ = boundary_trial(Path(d), n)
        if problems:
            failures += 1
            print(f"kill after event {n}: DIFFERS: {problems}", flush=True)
    print(f"boundary sweep: killed after each of {total - 1} events, "
          f"{total - 1 - failures} held every rule, {failures} differ "
          f"({time.perf_counter() - t0:.0f} s)")
    sys.exit(1 if failures else 0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-kills", type=int, default=3)
    p.add_argument("--every-boundary", action="store_true",
                   help="kill right after each event of the boundary team instead")
    a = p.parse_args()
    if a.every_boundary:
        every_boundary()
    rng = random.Random(a.seed)
    failures = 0
    total_kills = 0
    t0 = time.perf_counter()
    for i in range(a.trials):
        with tempfile.TemporaryDirectory() as d:
            problems, kills = trial(Path(d), rng, a.max_kills)
        total_kills += kills
        if problems:
            failures += 1
            print(f"trial {i}: {kills} kills: DIFFERS: {problems}", flush=True)
    elapsed = time.perf_counter() - t0
    print(f"crash sweep: {a.trials} trials, {total_kills} kill -9 points, "
          f"{a.trials - failures} equal to an uninterrupted run, {failures} differ "
          f"({elapsed:.0f} s, seed {a.seed})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
