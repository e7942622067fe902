"""Drive headless runs in subprocesses, kill -9 them, resume them: the crash harness.

Used by tests/test_resume.py and benchmarks/crash_sweep.py.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

CLI = [sys.executable, "-m", "tui"]
ROOT = Path(__file__).resolve().parents[1]

CRASH_TEAM = """\
name: crashy
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: a
    direct_communication: [b]
    memory_file: mem/a.md
    script:
      - {tool: run_command, args: {command: "echo start; sleep 1.2; echo end"}}
      - {tool: send_message, args: {to: b, text: q1, wait_reply: true}}
      - {tool: update_memory, args: {text: got r1}}
      - {tool: ask_user, args: {question: "ok?", options: ["yes", "no"]}}
      - {tool: run_command, args: {command: "sleep 0.6"}}
      - {tool: write_file, args: {path: out.txt, content: done}}
      - {tool: send_message, args: {to: b, text: bye}}
      - {tool: finish, args: {summary: a done}}
  - id: b
    script:
      - {tool: wait_for_message, args: {timeout: 60}}
      - {tool: run_command, args: {command: "echo thinking; sleep 1"}}
      - {tool: reply, args: {text: r1}}
      - {tool: wait_for_message, args: {timeout: 60}}
      - {tool: finish, args: {summary: b done}}
"""


class HeadlessRun:
    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([*CLI, *args], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.events: list[dict] = []

    def next_event(self) -> dict | None:
        line = self.proc.stdout.readline()
        if not line:
            return None
        event = json.loads(line)
        self.events.append(event)
        return event

    def until(self, pred: Callable[[dict], bool], timeout: float = 60,
              answer: bool = True) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            e = self.next_event()
            if e is None:
                return None
            if answer and e["type"] == "interrupt" and e["kind"] == "user_input":
                self.send({"type": "answer", "interrupt": e["id"], "text": "yes"})
            if pred(e):
                return e
        raise AssertionError("timed out waiting for an event")

    def send(self, obj: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(obj) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def finish(self, timeout: float = 90) -> int:
        self.until(lambda e: e["type"] == "run_finished", timeout)
        self.proc.stdin.close()
        return self.proc.wait(timeout)


def setup(tmp: Path) -> None:
    (tmp / "team.yaml").write_text(CRASH_TEAM)


def start(tmp: Path) -> HeadlessRun:
    return HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp)


def resume(tmp: Path) -> HeadlessRun:
    return HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp)


def final_state(tmp: Path) -> dict:
    """What must be equal to an uninterrupted run's, whatever the crashes."""
    conn = sqlite3.connect(tmp / "state.db")
    run_id, status = conn.execute("SELECT id, status FROM runs ORDER BY started DESC").fetchone()
    messages = Counter(conn.execute(
        "SELECT sender, recipient, kind, body, state FROM messages WHERE run_id=?", (run_id,)))
    interrupts = conn.execute("SELECT kind, answer IS NOT NULL FROM interrupts "
                              "WHERE run_id=? AND kind != 'progress_report'", (run_id,)).fetchall()
    answered_events = Counter(json.loads(d)["id"] for (d,) in conn.execute(
        "SELECT data FROM events WHERE run_id=? AND type='interrupt_answered'", (run_id,)))
    agents = dict(conn.execute("SELECT id, status FROM agents WHERE run_id=?", (run_id,)))
    seqs = [s for (s,) in conn.execute("SELECT seq FROM events WHERE run_id=? ORDER BY seq",
                                       (run_id,))]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    memory = (tmp / "mem" / "a.md").read_text() if (tmp / "mem" / "a.md").exists() else ""
    return {
        "status": status,
        "messages": messages,
        "interrupts": sorted(interrupts),
        "answered_twice": [i for i, n in answered_events.items() if n > 1],
        "agents": agents,
        "contiguous": seqs == list(range(1, len(seqs) + 1)),
        "integrity": integrity,
        "memory_entries": memory.count("got r1"),
        "out": (tmp / ".agentorch/workspaces/a/out.txt").read_text()
        if (tmp / ".agentorch/workspaces/a/out.txt").exists() else None,
    }


EXPECTED_MESSAGES = Counter({
    ("a", "b", "request", "q1", "delivered"): 1,
    ("b", "a", "reply", "r1", "delivered"): 1,
    ("a", "b", "notify", "bye", "delivered"): 1,
})


def check_final(state: dict) -> list[str]:
    """The differences from an uninterrupted run (empty when equal)."""
    problems = []
    if state["status"] != "finished":
        problems.append(f"run status {state['status']}")
    if state["messages"] != EXPECTED_MESSAGES:
        problems.append(f"messages {dict(state['messages'])}")
    if state["interrupts"] != [("user_input", 1)]:
        problems.append(f"interrupts {state['interrupts']}")
    if state["answered_twice"]:
        problems.append(f"answered twice: {state['answered_twice']}")
    if state["agents"] != {"a": "done", "b": "done"}:
        problems.append(f"agents {state['agents']}")
    if not state["contiguous"]:
        problems.append("event seqs not contiguous")
    if state["integrity"] != "ok":
        problems.append(f"integrity {state['integrity']}")
    if state["memory_entries"] < 1:
        problems.append("memory entry lost")
    if state["out"] != "done":
        problems.append("out.txt missing")
    return problems


def run_with_kills(tmp: Path, kill_points: list[Callable[[dict], bool]],
                   delay: float = 0.15) -> HeadlessRun:
    """Start, kill -9 at each point in turn (resuming after each), then run to the end."""
    setup(tmp)
    run = start(tmp)
    for point in kill_points:
        hit = run.until(point)
        assert hit is not None, f"the run ended before the kill point: {run.proc.stderr.read()}"
        time.sleep(delay)  # let the point's writes reach the store (group commit)
        run.kill9()
        run = resume(tmp)
    rc = run.finish()
    assert rc == 0, run.proc.stderr.read()
    return run
