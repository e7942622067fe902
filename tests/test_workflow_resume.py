"""kill -9 at any point of a workflow, then --resume: the board is rebuilt from its
events, no task runs twice, no workflow message is sent twice, and an agent created at
run time is there again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.crash_support import HeadlessRun

HELPER_SCRIPT = json.dumps([
    {"tool": "wait_for_message", "args": {"timeout": 60}},
    {"tool": "run_command", "args": {"command": "echo > made.txt; echo working; sleep 2"}},
    {"tool": "submit_task", "args": {"task_id": "t1", "summary": "made it"}},
    {"tool": "finish", "args": {"summary": "helped"}},
])

TEAM = f"""\
name: grow
sandbox: {{backend: local}}
defaults: {{model: scripted}}
workflow: {{goal: make a file, planner: planner, reviewer: reviewer, qa: "test -f made.txt"}}
agents:
  - id: planner
    script:
      - {{tool: wait_for_message, args: {{timeout: 60}}}}
      - tool: create_agent
        args: {{id: helper, role: maker, instructions: {json.dumps(HELPER_SCRIPT)}}}
      - tool: create_tasks
        args: {{tasks: [{{id: t1, title: make it, description: make made.txt, assignee: helper}},
                        {{id: t2, title: check it, description: look, assignee: reviewer, order: 1}}]}}
      - {{tool: wait_for_message, args: {{timeout: 60}}}}
      - {{tool: finish, args: {{summary: planned}}}}
  - id: reviewer
    script:
      - {{tool: wait_for_message, args: {{timeout: 60}}}}
      - {{tool: review_task, args: {{task_id: t1, verdict: approve, feedback: ok}}}}
      - {{tool: wait_for_message, args: {{timeout: 60}}}}
      - {{tool: write_file, args: {{path: made.txt, content: checked}}}}
      - {{tool: submit_task, args: {{task_id: t2, summary: looked}}}}
      - {{tool: wait_for_message, args: {{timeout: 60}}}}
      - {{tool: review_task, args: {{task_id: t2, verdict: approve, feedback: ok}}}}
      - {{tool: finish, args: {{summary: reviewed}}}}
"""


def run(tmp: Path, *args: str) -> HeadlessRun:
    return HeadlessRun([*args, "--headless", "--db", "state.db"], tmp)


def is_(type_: str, **fields):
    return lambda e: e["type"] == type_ and all(e.get(k) == v for k, v in fields.items())


def test_an_agent_created_at_run_time_survives_kill_9_and_the_task_runs_once(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    first = run(tmp_path, "team.yaml", "--auto-approve")
    plan = first.until(is_("interrupt", kind="plan_approval"))
    assert plan["new_agents"][0]["id"] == "helper"  # --auto-approve never approves new agents
    first.send({"type": "approve", "interrupt": plan["id"]})
    first.until(is_("console", agent="helper", kind="output"))  # made.txt is there
    first.kill9()

    second = run(tmp_path, "--resume", "last")
    assert second.finish() == 0
    events = first.events + second.events
    board = {}
    for e in events:
        if e["type"] == "task":
            board[e["task_id"]] = e
    assert board["t1"]["state"] == "done" and board["t2"]["state"] == "done"
    started = [e for e in second.events if e["type"] == "run_started"][0]
    assert "helper" in started["agents"]
    db = sqlite3.connect(tmp_path / "state.db")
    run_id, status = db.execute("SELECT id, status FROM runs").fetchone()
    assert status == "finished"
    rows = db.execute("SELECT data FROM events WHERE run_id=? AND type='message'", (run_id,))
    tasks_sent = [(d["task_id"], d["attempt"]) for d in map(json.loads, (r[0] for r in rows))
                  if d.get("purpose") == "task"]
    assert sorted(tasks_sent) == [("t1", 1), ("t2", 1)]  # never sent twice
    commands = db.execute("SELECT COUNT(*) FROM events WHERE run_id=? AND agent='helper' AND "
                          "type='console' AND data LIKE '%\"kind\": \"command\"%'", (run_id,))
    assert commands.fetchone()[0] == 1  # the interrupted command was not run again
    helper = db.execute("SELECT status FROM agents WHERE run_id=? AND id='helper'", (run_id,))
    assert helper.fetchone()[0] == "done"
    interrupted = [e for e in second.events if e["type"] == "tool_result"
                   and e.get("agent") == "helper" and e.get("interrupted")]
    assert len(interrupted) == 1


PLANNING = is_("workflow", phase="checking")
REVIEW = is_("task", task_id="greet", state="review")
QA = is_("task", task_id="test", state="qa")


@pytest.mark.parametrize("marks", [
    pytest.param([REVIEW], id="review"),
    pytest.param([PLANNING, REVIEW, QA], id="each-phase", marks=pytest.mark.slow)])
def test_kill_9_at_each_phase_of_the_demo_resumes_to_the_same_board(tmp_path, marks):
    """Kill the demo at a planning, a review and a QA moment (in the fast suite: at a
    review only); the board ends the same."""
    runner = run(tmp_path, "--demo", "--auto-approve", "--backend", "local")
    events = []
    for mark in marks:
        runner.until(mark)
        runner.kill9()
        events += runner.events
        runner = run(tmp_path, "--resume", "last")
    assert runner.finish(timeout=120) == 0
    events += runner.events
    board = {}
    for e in events:
        if e["type"] == "task":
            board[e["task_id"]] = (e["state"], e["attempt"])
    assert board == {"greet": ("done", 2), "docs": ("done", 1), "test": ("done", 2)}
    assert [e["phase"] for e in events if e["type"] == "workflow"][-1] == "done"
