"""Headless mode as a user runs it: a subprocess, JSON lines in and out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "tui"]


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([*CLI, *args], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def read_until(proc: subprocess.Popen, pred, seen: list[dict], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"stdout closed; stderr: {proc.stderr.read()}")
        event = json.loads(line)  # every stdout line is one JSON event
        seen.append(event)
        if pred(event):
            return event
    raise AssertionError("timed out")


def send(proc: subprocess.Popen, obj) -> None:
    proc.stdin.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    proc.stdin.flush()


def test_the_demo_workflow_runs_headless_with_auto_approve(tmp_path):
    proc = spawn(["--demo", "--headless", "--auto-approve", "--backend", "local"], tmp_path)
    seen: list[dict] = []
    read_until(proc, lambda e: e["type"] == "run_started", seen)
    send(proc, "this is not json")
    send(proc, {"type": "answer", "interrupt": "i404", "text": "x"})
    read_until(proc, lambda e: e["type"] == "run_finished", seen)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    types = {e["type"] for e in seen}
    assert {"run_started", "agent_status", "tool_call", "tool_result", "message", "interrupt",
            "interrupt_answered", "console", "memory_updated", "task", "workflow",
            "run_finished"} <= types
    errors = [e["text"] for e in seen if e["type"] == "error"]
    assert any("malformed command line" in t for t in errors)
    assert any("no interrupt 'i404'" in t for t in errors)
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    board = {e["task_id"]: e for e in seen if e["type"] == "task"}
    assert {t: e["state"] for t, e in board.items()} == {"greet": "done", "docs": "done",
                                                         "test": "done"}
    assert [e["phase"] for e in seen if e["type"] == "workflow"][-1] == "done"
    finished = seen[-1]
    assert finished["status"] == "finished"
    assert set(finished["agents"].values()) == {"done"}
    answered = [e for e in seen if e["type"] == "interrupt_answered"]
    assert [a["answer"].get("by") for a in answered] == ["auto-approve"]  # the plan
    # the events command prints the same stream from the store
    out = subprocess.run([*CLI, "events", "last"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=30)
    stored = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["seq"] for e in stored] == seqs
    runs = subprocess.run([*CLI, "runs"], cwd=tmp_path, capture_output=True, text=True)
    assert "demo" in runs.stdout and "finished" in runs.stdout
    tasks = subprocess.run([*CLI, "tasks", "last"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=30)
    assert tasks.returncode == 0, tasks.stderr
    assert "phase: done" in tasks.stdout and "3 done" in tasks.stdout


def test_headless_control_commands_pause_message_and_reject(tmp_path):
    (tmp_path / "team.yaml").write_text(
        "sandbox: {backend: local}\n"
        "agents:\n"
        "  - id: a\n"
        "    model: scripted\n"
        "    approval: plan\n"
        "    script:\n"
        "      - {tool: propose_plan, revise_on_reject: true, args: {steps: [one]}}\n"
        "      - {tool: wait_for_message, args: {timeout: 30}}\n"
        "      - {tool: run_command, args: {command: 'echo go'}}\n")
    proc = spawn(["team.yaml", "--headless"], tmp_path)
    seen: list[dict] = []
    plan = read_until(proc, lambda e: e["type"] == "interrupt", seen)
    assert plan["kind"] == "plan_approval" and plan["steps"] == ["one"]
    send(proc, {"type": "reject", "interrupt": plan["id"], "text": "needs more"})
    read_until(proc, lambda e: e["type"] == "tool_result" and e["tool"] == "propose_plan", seen)
    read_until(proc, lambda e: e["type"] == "agent_status" and e["status"] == "waiting_message",
               seen)
    send(proc, {"type": "pause", "agent": "a"})
    read_until(proc, lambda e: e["type"] == "agent_status" and e["status"] == "paused", seen)
    send(proc, {"type": "message", "to": "a", "text": "hello"})
    read_until(proc, lambda e: e["type"] == "message" and e["from"] == "user", seen)
    send(proc, {"type": "resume", "agent": "a"})
    # a rejected scripted agent does not go on with the plan's work: it re-plans
    revised = read_until(proc, lambda e: e["type"] == "interrupt", seen)
    assert revised["steps"] == ["one", "Address the feedback: needs more"]
    send(proc, {"type": "approve", "interrupt": revised["id"]})
    last = read_until(proc, lambda e: e["type"] == "run_finished", seen)
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    results = [e for e in seen if e["type"] == "tool_result"]
    assert results[0]["result"] == {"approved": False, "feedback": "needs more"}
    assert results[1]["result"]["text"] == "hello"
    assert results[2]["result"]["approved"] is True
    assert not results[3]["is_error"] and results[3]["tool"] == "run_command"
    assert last["status"] == "finished"


def test_sigterm_stops_cleanly_and_cancel_exits_1(tmp_path):
    (tmp_path / "team.yaml").write_text(
        "sandbox: {backend: local}\n"
        "agents:\n"
        "  - {id: a, model: scripted, script: [{tool: run_command, args: {command: 'sleep 60'}}]}\n"
        "  - {id: b, model: scripted, script: [{tool: run_command, args: {command: 'sleep 60'}}]}\n")
    proc = spawn(["team.yaml", "--headless"], tmp_path)
    seen: list[dict] = []
    read_until(proc, lambda e: e["type"] == "console" and e["agent"] == "b", seen)
    send(proc, {"type": "cancel", "agent": "a"})
    read_until(proc, lambda e: e["type"] == "agent_status" and e["status"] == "cancelled", seen)
    proc.send_signal(signal.SIGTERM)
    last = read_until(proc, lambda e: e["type"] == "run_finished", seen)
    assert proc.wait(timeout=30) == 1
    assert last["status"] == "stopped" and last["agents"] == {"a": "cancelled", "b": "cancelled"}
    assert "Traceback" not in proc.stderr.read()


def test_missing_default_config_suggests_the_demo(tmp_path):
    proc = subprocess.run([*CLI, "--headless"], cwd=tmp_path, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=30)
    assert proc.returncode == 2
    assert "agents.yaml:1: (file): file not found" in proc.stderr
    assert "--demo" in proc.stderr and "Traceback" not in proc.stderr
