"""kill -9 a headless run right after a firing was recorded, resume it: the firing runs
once (it goes on where it stopped), is never fired again, and the next ones follow.

A real process and the real clock: the schedule fires every second."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest
from crash_support import HeadlessRun

TEAM = """\
name: ticking
sandbox: {backend: local}
agents:
  - id: cron
    model: scripted
    schedule: "* * * * * *"
    script:
      - {tool: run_command, args: {command: "echo fired >> fired.log"}}
      - {tool: finish, args: {summary: ticked}}
"""


def schedule_events(tmp) -> list[dict]:
    conn = sqlite3.connect(tmp / "state.db")
    rows = conn.execute("SELECT data FROM events WHERE type='schedule' ORDER BY seq").fetchall()
    conn.close()
    return [json.loads(d) for (d,) in rows]


KILL_POINTS = {
    # the firing is recorded (durable before visible); its work may not have begun
    "fired": lambda e: e["type"] == "schedule" and e["action"] == "fired",
    # its command ran and ended; the firing's end is not recorded yet
    "command done": lambda e: e["type"] == "console" and e.get("kind") == "exit",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_inside_a_recorded_firing_never_runs_it_twice(tmp_path, point):
    (tmp_path / "team.yaml").write_text(TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    first = run.until(lambda e: e["type"] == "schedule" and e["action"] == "fired", timeout=60)
    if point != "fired":
        run.until(KILL_POINTS[point], timeout=60)
    run.kill9()
    run = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    done = run.until(lambda e: e["type"] == "schedule" and e["action"] == "completed"
                     and e["firing"] == 2, timeout=60)
    assert done is not None
    run.send({"type": "stop"})
    run.until(lambda e: e["type"] == "run_finished", timeout=60)
    run.proc.wait(30)
    events = schedule_events(tmp_path)
    fired = [e for e in events if e["action"] == "fired"]
    planned = Counter(e["planned"] for e in fired)
    assert all(n == 1 for n in planned.values()), planned  # no planned time fired twice
    assert fired[0]["planned"] == first["planned"] and fired[0]["firing"] == 1
    completed = Counter(e["firing"] for e in events if e["action"] == "completed")
    assert completed[1] == 1 and completed[2] == 1  # firing 1 went on after the restart, once
    ticks = (tmp_path / ".agentorch/workspaces/cron/fired.log").read_text().count("fired")
    assert ticks <= len(fired)  # a command never ran twice for one firing
    if point == "command done":  # firing 1's command had ended: resumed, it is not run again
        calls = Counter(c for c in tool_calls(tmp_path) if c.startswith("cron-f1-"))
        assert calls == {"cron-f1-1": 1, "cron-f1-2": 1}


def tool_calls(tmp) -> list[str]:
    conn = sqlite3.connect(tmp / "state.db")
    rows = conn.execute("SELECT data FROM events WHERE type='tool_call' ORDER BY seq").fetchall()
    conn.close()
    return [json.loads(d)["call_id"] for (d,) in rows if not json.loads(d).get("resumed")]


def test_runs_shows_when_each_scheduled_agent_fires_next(tmp_path):
    import subprocess

    from crash_support import CLI, ROOT

    (tmp_path / "team.yaml").write_text(TEAM.replace('"* * * * * *"', '"0 9 * * *"'))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run.until(lambda e: e["type"] == "agent_status" and e["status"] == "idle", timeout=60)
    run.send({"type": "stop"})
    run.until(lambda e: e["type"] == "run_finished", timeout=60)
    run.proc.wait(30)
    out = subprocess.run([*CLI, "runs", "--db", "state.db"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("  next firing: "))
    assert line.startswith("  next firing: cron ") and "09:00" in line
