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


# -- the boundary sweep: kill -9 right after each event a client sees ------------------
BOUNDARY_TEAM = """\
name: boundary
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: a
    direct_communication: [b]
    memory_file: mem/a.md
    script:
      - {tool: ask_user, args: {question: Q1}}
      - {tool: run_command, args: {command: "echo ran >> ran.log"}}
      - {tool: ask_user, args: {question: Q2}}
      - {tool: send_message, args: {to: b, text: q1, wait_reply: true}}
      - {tool: write_file, args: {path: out.txt, content: done}}
      - {tool: update_memory, args: {text: noted}}
      - {tool: finish, args: {summary: a done}}
  - id: b
    script:
      - {tool: wait_for_message, args: {timeout: 60}}
      - {tool: run_command, args: {command: "echo ran >> ran.log"}}
      - {tool: reply, args: {text: r1}}
      - {tool: finish, args: {summary: b done}}
"""


def answering(run: HeadlessRun, e: dict) -> None:
    """Answer a question with its own text, so a mixed-up answer shows."""
    if e["type"] == "interrupt" and e["kind"] == "user_input":
        run.send({"type": "answer", "interrupt": e["id"], "text": "A:" + e["prompt"]})


def boundary_events(tmp: Path) -> int:
    """How many events an uninterrupted run of the boundary team shows."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "team.yaml").write_text(BOUNDARY_TEAM)
    run = start(tmp)
    while (e := run.next_event()) is not None:
        answering(run, e)
    run.proc.stdin.close()
    assert run.proc.wait(60) == 0, run.proc.stderr.read()
    assert _boundary_final(tmp) == []
    return len(run.events)


def boundary_trial(tmp: Path, kill_after: int) -> tuple[list[str], bool]:
    """Kill -9 as soon as the ``kill_after``-th event is read, resume, finish.

    Returns the differences from an uninterrupted run, and whether the kill
    happened (False: the run ended first).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "team.yaml").write_text(BOUNDARY_TEAM)
    run = start(tmp)
    seen: list[dict] = []
    while len(seen) < kill_after:
        e = run.next_event()
        if e is None:
            break
        seen.append(e)
        answering(run, e)
    killed = len(seen) == kill_after and seen[-1]["type"] != "run_finished"
    problems: list[str] = []
    if not killed:
        run.proc.stdin.close()
        run.proc.wait(60)
        return problems, False
    run.kill9()
    problems += _shown_but_lost(tmp, seen)
    conn = sqlite3.connect(tmp / "state.db")
    row = conn.execute("SELECT status FROM runs").fetchone()
    conn.close()
    if row is None:
        return [*problems, "the run is absent from the database"], True
    if row[0] == "finished":  # it ran to its end before the signal landed
        return problems + _boundary_final(tmp), True
    run = resume(tmp)
    while True:
        e = run.next_event()
        if e is None:
            break
        answering(run, e)
    run.proc.stdin.close()
    if run.proc.wait(60) != 0:
        problems.append(f"resume exited {run.proc.returncode}: {run.proc.stderr.read()[-400:]}")
    return problems + _boundary_final(tmp), True


def _shown_but_lost(tmp: Path, seen: list[dict]) -> list[str]:
    """Durable before visible: every event a client saw is in the database."""
    conn = sqlite3.connect(tmp / "state.db")
    stored = dict(conn.execute("SELECT seq, type FROM events"))
    conn.close()
    return [f"event {e['seq']} ({e['type']}) was shown, then lost" for e in seen
            if stored.get(e["seq"]) != e["type"]]


def _boundary_final(tmp: Path) -> list[str]:
    problems = []
    conn = sqlite3.connect(tmp / "state.db")
    run_id, status = conn.execute("SELECT id, status FROM runs ORDER BY started DESC").fetchone()
    stored = conn.execute("SELECT seq, type, agent, data FROM events WHERE run_id=? "
                          "ORDER BY seq", (run_id,)).fetchall()
    rows = [(t, a, json.loads(d)) for _, t, a, d in stored]
    messages = Counter(conn.execute("SELECT sender, recipient, kind, body, state FROM messages "
                                    "WHERE run_id=?", (run_id,)))
    agents = dict(conn.execute("SELECT id, status FROM agents WHERE run_id=?", (run_id,)))
    conn.close()
    if status != "finished" or agents != {"a": "done", "b": "done"}:
        problems.append(f"run {status}, agents {agents}")
    answered = Counter(d["id"] for t, _, d in rows if t == "interrupt_answered")
    if any(n > 1 for n in answered.values()):
        problems.append(f"answered twice: {answered}")
    for t, _, d in rows:  # each question got its own answer, exactly once
        if t == "tool_result" and d["tool"] == "ask_user" and not d["is_error"]:
            question = next(x["args"]["question"] for tt, _, x in rows
                            if tt == "tool_call" and x["call_id"] == d["call_id"])
            if d["result"]["answer"] != "A:" + question:
                problems.append(f"{question} got {d['result']['answer']!r}")
    for agent in ("a", "b"):  # at most once; exactly once unless reported interrupted
        log = tmp / ".agentorch/workspaces" / agent / "ran.log"
        lines = log.read_text().count("ran") if log.exists() else 0
        results = [d for t, a, d in rows if t == "tool_result" and a == agent
                   and d["tool"] == "run_command"]
        interrupted = any(d.get("interrupted") for d in results)
        if lines > 1 or (lines == 0 and not interrupted):
            problems.append(f"{agent}'s command ran {lines} times")
    expected = Counter({("a", "b", "request", "q1", "delivered"): 1,
                        ("b", "a", "reply", "r1", "delivered"): 1})
    if messages != expected:
        problems.append(f"messages {dict(messages)}")
    if [r[0] for r in stored] != list(range(1, len(stored) + 1)):
        problems.append("event seqs not contiguous")
    out = tmp / ".agentorch/workspaces/a/out.txt"
    if not out.exists() or out.read_text() != "done":
        problems.append("out.txt missing")
    return problems
