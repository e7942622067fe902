"""kill -9 while a coding CLI's turn waits for the person: the resumed run closes that
interrupt as stale (the turn that asked is gone, the CLI asks again in its new turn), so
the person never sees a dead button; a built-in agent's interrupt is shown again as before."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import yaml

from engine.resume import STALE_TEXT
from tests.crash_support import HeadlessRun
from tests.fake_openai import FakeResponses, exec_command, message
from tests.test_cli_agent_codex import PRICING, codex_on_path, responses  # noqa: F401

# a turn without a `result` line is an error: the CLI agent asks the person (retry or stop)
SILENT = "import sys; sys.exit(1)\n"


def _team(tmp: Path) -> None:
    (tmp / "silent.py").write_text(SILENT)
    (tmp / "team.yaml").write_text(yaml.safe_dump({
        "name": "stale", "sandbox": {"backend": "local"},
        "agents": [
            {"id": "cli", "brain": "command", "cli": {"command": [sys.executable,
                                                                  str(tmp / "silent.py")]},
             "initial_instructions": "Go."},
            {"id": "a", "model": "scripted", "script": [
                {"tool": "ask_user", "args": {"question": "ok?", "options": ["yes", "no"]}},
                {"tool": "finish", "args": {"summary": "a done"}}]}]}))


def _asked(run: HeadlessRun, agent: str, kind: str, seen: set[str]) -> dict:
    hit = run.until(lambda e: e["type"] == "interrupt" and e.get("agent") == agent
                    and e["kind"] == kind and e["id"] not in seen, timeout=60, answer=False)
    assert hit is not None, run.proc.stderr.read()
    return hit


def test_a_cli_turns_interrupt_is_closed_as_stale_after_kill9(tmp_path: Path) -> None:
    _team(tmp_path)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    try:
        waiting: dict[str, str] = {}  # agent -> interrupt, both asked (in either order)
        run.until(lambda e: e["type"] == "interrupt" and not waiting.update(
            {e["agent"]: e["id"]}) and len(waiting) == 2, timeout=60, answer=False)
        asked = set(waiting.values())
        time.sleep(0.3)  # the interrupts reach the store (group commit)
    finally:
        run.kill9()
    old_cli = waiting["cli"]

    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    try:
        closed = resumed.until(lambda e: e["type"] == "interrupt_answered"
                               and e["id"] == old_cli, timeout=60, answer=False)
        assert closed is not None, resumed.proc.stderr.read()
        answer = closed["answer"]
        assert answer.get("withdrawn") and answer.get("stale") and "approved" not in answer
        assert answer["text"] == STALE_TEXT
        again = _asked(resumed, "cli", "debug_request", asked)  # the new turn asks anew
        resumed.send({"type": "answer", "interrupt": again["id"], "text": "stop"})
        # the built-in agent's question is still open and answered once
        resumed.send({"type": "answer", "interrupt": _user_input(tmp_path), "text": "yes"})
        resumed.finish(timeout=60)  # exits 1: the CLI agent failed (stopped by the person)
    finally:
        if resumed.proc.poll() is None:
            resumed.kill9()
    restored = [e["id"] for e in resumed.events if e["type"] == "interrupt" and e.get("restored")]
    assert old_cli not in restored and _user_input(tmp_path) in restored
    a_answer = [e["answer"] for e in resumed.events if e["type"] == "interrupt_answered"
                and e["id"] == _user_input(tmp_path)]
    assert [x["text"] for x in a_answer] == ["yes"] and not a_answer[0].get("stale")
    assert resumed.events[-1]["agents"] == {"cli": "failed", "a": "done"}


def _user_input(tmp: Path) -> str:
    conn = sqlite3.connect(tmp / "state.db")
    try:
        return conn.execute("SELECT id FROM interrupts WHERE kind='user_input'").fetchone()[0]
    finally:
        conn.close()


def test_codex_approval_pending_at_kill9_is_stale_and_asked_again(
        tmp_path: Path, codex_on_path: None, responses: FakeResponses) -> None:  # noqa: F811
    """The real `codex app-server` (approval: risky, local backend)."""
    (tmp_path / "ws" / "build").mkdir(parents=True)
    (tmp_path / "team.yaml").write_text(yaml.safe_dump({
        "name": "codex-stale", "sandbox": {"backend": "local"}, "pricing": PRICING,
        "agents": [{"id": "cx", "brain": "codex", "model": "gpt-5-codex", "approval": "risky",
                    "tools": ["finish"], "sandbox_path": "ws",
                    "initial_instructions": "Clean the build."}]}))
    responses.push(exec_command("rm -rf build", "call_rm"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    try:
        first = _asked(run, "cx", "command_approval", set())
        time.sleep(0.3)  # the interrupt reaches the store (group commit)
    finally:
        run.kill9()
    responses.push(exec_command("rm -rf build", "call_rm2"))
    responses.push(message("Done."))
    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    try:
        closed = resumed.until(lambda e: e["type"] == "interrupt_answered"
                               and e["id"] == first["id"], timeout=60, answer=False)
        assert closed is not None and closed["answer"]["stale"], resumed.proc.stderr.read()
        again = _asked(resumed, "cx", "command_approval", {first["id"]})
        resumed.send({"type": "approve", "interrupt": again["id"]})
        assert resumed.finish(timeout=120) == 0, resumed.proc.stderr.read()
    finally:
        if resumed.proc.poll() is None:
            resumed.kill9()
    assert not (tmp_path / "ws" / "build").exists()
    assert not [e for e in resumed.events if e["type"] == "interrupt" and e.get("restored")]
