"""Notifications: when an agent becomes blocked on the person, the configured program
gets the agent and the question (as arguments, never through a shell, and as JSON on
stdin) exactly once per blocking interrupt, never for a progress report; `quiet` and
an auto-approved plan notify nobody.  A real script writes what it received to a file."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import TeamConfig
from engine.notify import Notifier
from tests.engine_support import make_team, start, step

RECORDER = """
import json, sys
data = json.loads(sys.stdin.read())
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({"argv": sys.argv[2:], "stdin": data}) + "\\n")
"""
HOSTILE = "Ship it? $(touch pwned) `touch pwned2`; rm -rf / #"


def recorder(tmp_path: Path) -> tuple[list[str], Path]:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    return [sys.executable, str(script), str(tmp_path / "told.jsonl")], tmp_path / "told.jsonl"


def told(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


async def until(predicate, timeout: float = 15) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


AGENTS = [
    {"id": "asker", "script": [step("ask_user", question=HOSTILE)]},
    {"id": "reporter", "script": [step("report_progress", text="halfway"),
                                  step("request_debug", text="why so slow?")]},
    {"id": "planner", "approval": "plan", "script": [step("propose_plan", steps=["one"])]},
]


async def test_the_command_gets_agent_and_question_once_per_blocking_interrupt(
        tmp_path: Path) -> None:
    command, out = recorder(tmp_path)
    team = make_team(tmp_path, AGENTS, notify={"command": command})
    engine, w, store = await start(team, tmp_path)
    try:
        for kind in ("user_input", "debug_request", "plan_approval"):
            await w.wait_for("interrupt", kind=kind)
        await until(lambda: len(told(out)) >= 3)
        for intr in engine.interrupts.pending():  # answering raises nothing new
            if intr.blocking:
                await (engine.approve(intr.id) if intr.kind == "plan_approval"
                       else engine.answer(intr.id, "ok"))
        await engine.wait()
    finally:
        await store.close()
    by_agent = {t["argv"][0]: t["argv"][1] for t in told(out)}
    assert len(told(out)) == 3 and sorted(by_agent) == ["asker", "planner", "reporter"]
    assert by_agent["asker"] == HOSTILE and by_agent["reporter"] == "why so slow?"
    assert all(t["stdin"]["agent"] == t["argv"][0] for t in told(out))
    assert not any("halfway" in t["argv"][1] for t in told(out))  # a report blocks nobody
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


async def test_quiet_and_auto_approved_plans_notify_nobody(tmp_path: Path) -> None:
    command, out = recorder(tmp_path)
    team = make_team(tmp_path, [AGENTS[2]], notify={"command": command})
    engine, w, store = await start(team, tmp_path, auto_approve=True)
    await engine.wait()
    await store.close()
    assert told(out) == []
    quiet = Notifier("quiet")
    rang: list[int] = []
    quiet.bell = lambda: rang.append(1)
    quiet.blocked("i1", "a", "user_input", "q?")
    assert rang == []


async def test_the_bell_rings_once_per_interrupt_and_a_missing_program_is_said_once() -> None:
    team = TeamConfig.model_validate({"agents": [{"id": "a"}],
                                      "notify": {"command": ["/nonexistent/x"]}})
    notifier = Notifier(team.notify)
    rang: list[int] = []
    errors: list[str] = []
    notifier.bell = lambda: rang.append(1)
    notifier.on_error = errors.append
    for intr in ("i1", "i1", "i2"):
        notifier.blocked(intr, "a", "user_input", "q?")
    await notifier.close()
    assert len(rang) == 2
    assert len(errors) == 1 and "cannot run '/nonexistent/x'" in errors[0]


def test_desktop_without_notify_send_rings_the_bell_and_says_why() -> None:
    notifier = Notifier("desktop", which=lambda name: None)
    errors: list[str] = []
    notifier.on_error = errors.append
    notifier.blocked("i1", "a", "user_input", "q?")
    assert errors and "notify-send" in errors[0]


@pytest.mark.parametrize("bad", ["loud", {"command": []}, {"command": "notify-send hi"},
                                 {"command": [""]}])
def test_a_bad_notify_setting_is_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        TeamConfig.model_validate({"agents": [{"id": "a"}], "notify": bad})
