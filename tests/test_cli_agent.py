"""`brain: command`: the JSON-lines contract, and a CLI that hangs, crashes or prints garbage
gets a clear status and a retry-or-stop question, never a stuck agent."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from engine import events as ev
from tests.docker_support import TEST_IMAGE, require_docker
from tests.engine_support import make_team, run_to_end, start

GOOD = r'''
import json, os, sys
say = lambda **o: print(json.dumps(o), flush=True)
turn = os.environ["AGENTORCH_TURN"]
say(type="session", id="s-" + (os.environ["AGENTORCH_SESSION"] or "new"))
print("a line that is not JSON", flush=True)
say(type="text", text=f"turn {turn}: {sys.argv[-1][:60]}")
say(type="tool_call", id=f"c{turn}", name="Grep", args={"pattern": "TODO"})
say(type="tool_result", id=f"c{turn}", result="3 matches")
say(type="usage", model="my-model", input_tokens=100, output_tokens=20, cost_usd=0.25)
say(type="result", text="finished for now", done=turn == "2")
'''


def command_team(tmp_path: Path, body: str, **agent):
    script = tmp_path / "agent.py"
    script.write_text(body)
    fields = {"id": "bot", "model": None, "script": None, "brain": "command",
              "cli": {"command": [sys.executable, str(script)], **agent.pop("cli", {})}, **agent}
    return make_team(tmp_path, [fields])


async def test_the_json_lines_contract_turn_by_turn(tmp_path: Path) -> None:
    team = command_team(tmp_path, GOOD, initial_instructions="Count the TODOs.",
                        tools=["wait_for_message", "finish"])
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for(ev.AGENT_STATUS, "bot", status=ev.WAITING_MESSAGE, timeout=30)
        await engine.send_user_message("bot", "again please")
        await asyncio.wait_for(engine.wait(), 30)
    finally:
        await engine.stop()
    texts = [e.data["text"] for e in watcher.find(ev.ASSISTANT_TEXT, "bot")]
    assert texts[0] == "turn 1: Count the TODOs."
    assert texts[1].startswith("turn 2: [message") and "again please" in texts[1]
    assert [e.data["tool"] for e in watcher.find(ev.TOOL_CALL, "bot")] == \
        ["Grep", "wait_for_message", "Grep"]
    assert watcher.find(ev.TOOL_RESULT, "bot", call_id="c1")[0].data["result"] == "3 matches"
    assert watcher.find(ev.CONSOLE, "bot")[0].data["text"] == "a line that is not JSON\n"
    usage = watcher.find(ev.USAGE, "bot")
    assert [u.data["cost"] for u in usage] == [0.25, 0.25]  # no price for my-model: its own
    assert usage[-1].data["agent_cost"] == 0.5
    status = watcher.find(ev.AGENT_STATUS, "bot", status=ev.DONE)[0].data
    assert status["reason"] == "finished for now"
    await store.close()


@pytest.mark.parametrize("usage,charged", [
    ({"input_tokens": -5, "output_tokens": 1, "cost_usd": -3.0}, (2_000_001, 1000.0)),
    ({"input_tokens": 10**12, "cost_usd": float("inf")}, (2_000_000, 1000.0)),
    ({"input_tokens": "many", "cost_usd": "free"}, (2_000_000, 0.0)),
])
async def test_negative_or_absurd_usage_is_never_trusted(tmp_path: Path, usage, charged) -> None:
    fields = json.dumps(usage).replace("Infinity", "float('inf')")
    body = (f"import json\nprint(json.dumps(dict(type='usage', **{fields})))\n"
            "print(json.dumps(dict(type='result', text='x', done=True)))\n")
    engine, watcher, store = await run_to_end(command_team(tmp_path, body), tmp_path)
    event = watcher.find(ev.USAGE, "bot")[0].data
    assert (event["agent_tokens"], event["agent_cost"]) == charged
    await store.close()


@pytest.mark.parametrize("body,cli,why", [
    ("print('garbage'); print('{not json'); import sys; sys.exit(3)", {},
     "ended (exit code 3) without a result line: garbage | {not json"),
    ("import os; print('{\"type\": \"text\", \"text\": \"hi\"}', flush=True); os.kill(os.getpid(), 9)",
     {}, "ended (exit code 137) without a result line"),
    ("import time; print('{\"type\": \"text\", \"text\": \"hi\"}', flush=True); time.sleep(600)",
     {"idle_timeout": 1}, "printed nothing for 1s and was stopped (hung?)"),
    ("import time\nwhile True:\n    print('tick', flush=True); time.sleep(0.2)",
     {"turn_timeout": 1.5}, "turn ran past its turn_timeout of 1.5s"),
])
async def test_crash_hang_and_garbage_ask_retry_or_stop(tmp_path: Path, body, cli, why) -> None:
    engine, watcher, store = await start(command_team(tmp_path, body, cli=cli), tmp_path)
    try:
        intr = await watcher.wait_for(ev.INTERRUPT, "bot", timeout=30)
        assert why in intr.data["prompt"], intr.data["prompt"]
        await engine.interrupts.answer(intr.data["id"], {"text": "retry"})  # the turn again
        second = await asyncio.wait_for(_nth_interrupt(watcher, 2), 30)
        assert why in second.data["prompt"]
        await engine.interrupts.answer(second.data["id"], {"text": "stop"})
        await asyncio.wait_for(engine.wait(), 30)
    finally:
        await engine.stop()
    assert engine.agents["bot"].status == ev.FAILED
    assert why in watcher.find(ev.AGENT_STATUS, "bot", status=ev.FAILED)[0].data["reason"]
    await store.close()


async def _nth_interrupt(watcher, n: int):
    while len(found := watcher.find(ev.INTERRUPT, "bot")) < n:
        await asyncio.sleep(0.05)
    return found[n - 1]


@pytest.mark.docker
async def test_the_command_runs_inside_the_container_as_the_sandbox_user(tmp_path: Path) -> None:
    require_docker()
    body = ("echo '{\"type\":\"text\",\"text\":\"'$(id -u)' '$(pwd)' '$AGENTORCH_STATE_DIR'\"}'; "
            "touch \"$AGENTORCH_STATE_DIR/kept\" && "
            "echo '{\"type\":\"result\",\"text\":\"ok\",\"done\":true}'")
    team = make_team(tmp_path, [{"id": "bot", "model": None, "script": None, "brain": "command",
                                 "cli": {"command": ["sh", "-c", body, "sh"]}}],
                     sandbox={"backend": "docker", "image": TEST_IMAGE})
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=120)
    said = watcher.find(ev.ASSISTANT_TEXT, "bot")[0].data["text"].split()
    assert said[0] != "0" and said[1:] == ["/workspace", "/agentorch/state"]
    assert (tmp_path / "cli" / engine.run_id / "bot" / "kept").exists()  # outside the workspace
    await store.close()


CODEX_STREAM = Path(__file__).parent / "fixtures" / "codex_exec.jsonl"


async def test_codex_exec_json_stream_becomes_events(tmp_path: Path, monkeypatch) -> None:
    """A recorded stream of `codex exec --json`'s documented events (the real binary is not
    run: it needs the OpenAI API); a stand-in `codex` on PATH prints it and its argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "codex"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/argv\ncat {CODEX_STREAM}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-recorded")
    # the key passed in: usage comes from the stream's turn.completed (no model socket)
    team = make_team(tmp_path, [{"id": "cx", "brain": "codex", "model": "gpt-5-codex",
                                 "script": None, "tools": ["finish"],
                                 "pass_env": ["OPENAI_API_KEY"]}],
                     pricing={"gpt-5-codex": {"input": 1.25, "output": 10, "cache_read": 0.125}})
    engine, watcher, store = await run_to_end(team, tmp_path)
    calls = [(e.data["call_id"], e.data["tool"]) for e in watcher.find(ev.TOOL_CALL, "cx")]
    assert calls == [("item_1", "shell"), ("item_2", "apply_patch"),
                     ("item_3", "mcp__agentorch__report_progress")]
    results = {e.data["call_id"]: e.data for e in watcher.find(ev.TOOL_RESULT, "cx")}
    assert results["item_1"]["result"] == "README.md\nsrc\n" and not results["item_1"]["is_error"]
    assert [e.data["text"] for e in watcher.find(ev.ASSISTANT_TEXT, "cx")] == ["Updated src/a.py."]
    usage = watcher.find(ev.USAGE, "cx")[0].data
    assert (usage["input_tokens"], usage["cache_read_tokens"], usage["output_tokens"]) == \
        (315, 24448, 122)
    assert usage["cost"] > 0
    argv = (tmp_path / "argv").read_text()
    assert argv == ("exec --json --skip-git-repo-check --ignore-user-config --ignore-rules "
                    "--sandbox danger-full-access -c analytics.enabled=false "
                    "--model gpt-5-codex -- Begin your work.\n")  # approval: never
    assert engine.agents["cx"].status == ev.DONE
    assert "0199a213-81c0-7800-8aa1-bbab2a035a53" in json.dumps(
        await engine.agents["cx"].load_conversation())
    await store.close()


async def test_pause_takes_effect_after_the_current_turn(tmp_path: Path) -> None:
    go = tmp_path / "go"
    body = (f"import json, os, time\nturn = os.environ['AGENTORCH_TURN']\n"
            f"print(json.dumps(dict(type='text', text='started ' + turn)), flush=True)\n"
            f"while turn == '1' and not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
            "print(json.dumps(dict(type='result', text='turn ' + turn, done=turn == '2')))\n")
    team = command_team(tmp_path, body, tools=["wait_for_message", "finish"])
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for(ev.ASSISTANT_TEXT, "bot", text="started 1", timeout=30)
        await engine.pause("bot")  # the turn runs on to its end
        await engine.send_user_message("bot", "next")
        go.touch()
        await watcher.wait_for(ev.AGENT_STATUS, "bot", status=ev.PAUSED, timeout=30)
        await engine.resume("bot")
        await asyncio.wait_for(engine.wait(), 30)
    finally:
        await engine.stop()
    paused = watcher.find(ev.AGENT_STATUS, "bot", status=ev.PAUSED)[0].seq
    resumed = next(e.seq for e in watcher.find(ev.AGENT_STATUS, "bot")
                   if e.seq > paused and e.data["status"] != ev.PAUSED)
    waited = watcher.find(ev.TOOL_CALL, "bot", tool="wait_for_message")[0].seq
    second = watcher.find(ev.ASSISTANT_TEXT, "bot", text="started 2")[0].seq
    assert resumed < waited < second  # nothing after the first turn until resumed
    assert engine.agents["bot"].status == ev.DONE
    await store.close()


@pytest.mark.parametrize("reported_model,cost", [
    ("claude-opus-4-1", 15 + 75),  # a dearer model than its own: priced as that one
    ("claude-haiku-4-5", 3 + 15),  # a cheaper one cannot lower the price of its own
    ("no-such-model", 3 + 15),
])
async def test_a_cli_agent_pays_the_dearer_model(tmp_path: Path, reported_model, cost) -> None:
    body = (f"import json\nprint(json.dumps(dict(type='usage', model={reported_model!r}, "
            "input_tokens=1000000, output_tokens=1000000)))\n"
            "print(json.dumps(dict(type='result', done=True)))\n")
    team = command_team(tmp_path, body, model="claude-sonnet-4-5")
    engine, watcher, store = await run_to_end(team, tmp_path)
    assert watcher.find(ev.USAGE, "bot")[0].data["cost"] == pytest.approx(cost)
    await store.close()
