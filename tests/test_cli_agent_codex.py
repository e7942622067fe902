"""The real `codex exec --json` (npm @openai/codex, cached like claude-code) as a CLI agent on
the LOCAL backend, against a fake of the Responses API on 127.0.0.1: through the engine's
model socket (a loopback port here; key added outside, usage metered), and with the key
passed in by `pass_env`."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from engine import events as ev
from tests.engine_support import make_team, run_to_end, start
from tests.fake_openai import FakeResponses, exec_command, message, serve_responses

CODEX_VERSION = "0.171.0"
KEY = "sk-openai-test-key-123"
PRICING = {"gpt-5-codex": {"input": 1.25, "output": 10, "cache_read": 0.125}}


def codex_binary() -> Path:
    """The npm-installed codex (cached in ~/.cache/agentorch, as build-cli-image.sh does)."""
    cache = Path.home() / ".cache" / "agentorch" / f"codex-{CODEX_VERSION}"
    binary = (cache / "node_modules" / "@openai" / "codex-linux-x64" / "vendor" /
              "x86_64-unknown-linux-musl" / "bin" / "codex")
    if not binary.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is needed to fetch @openai/codex")
        done = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                               "--ignore-scripts", "--loglevel=error",
                               f"@openai/codex@{CODEX_VERSION}"], capture_output=True, text=True,
                              check=False, timeout=300)
        if done.returncode != 0 or not binary.exists():
            pytest.skip(f"could not install @openai/codex: {done.stderr[-300:]}")
    return binary


@pytest.fixture
def codex_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "codex").symlink_to(codex_binary())
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch):
    yield from serve_responses(monkeypatch)


async def test_codex_through_the_model_socket(tmp_path: Path, codex_on_path: None,
                                              responses: FakeResponses) -> None:
    responses.push(exec_command("env; echo made by codex > codex.txt", "call_1"))
    responses.push(message("Wrote codex.txt."))
    team = make_team(tmp_path, [{
        "id": "cx", "brain": "codex", "model": "gpt-5-codex", "script": None,
        "tools": ["finish"]}], pricing=PRICING)
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=120)
    assert engine.agents["cx"].status == ev.DONE, watcher.find(ev.AGENT_STATUS, "cx")
    shown = watcher.find(ev.TOOL_RESULT, "cx", tool="shell")[0].data["result"]
    assert KEY not in shown and "OPENAI_API_KEY" not in shown  # the key stayed outside
    assert KEY not in json.dumps([e.data for e in watcher.events])
    # the socket added the key and asked for no compression; codex sent none
    assert [h["authorization"] for h in responses.headers] == [f"Bearer {KEY}"] * 2
    assert responses.paths == ["/v1/responses"] * 2
    usage = [u.data for u in watcher.find(ev.USAGE, "cx")]
    # one charge per response, from the upstream's response.completed (cached split out)
    assert [(u["input_tokens"], u["cache_read_tokens"], u["output_tokens"]) for u in usage] == \
        [(600, 400, 50)] * 2
    assert usage[-1]["agent_tokens"] == 2100 and usage[-1]["cost"] > 0
    console = "".join(e.data["text"] for e in watcher.find(ev.CONSOLE, "cx"))
    assert "Reading additional input" not in console  # its every-turn chatter is not shown
    await store.close()


async def test_real_codex_turns_become_events(tmp_path: Path, codex_on_path: None,
                                              responses: FakeResponses) -> None:
    responses.push(exec_command("echo made by codex > codex.txt && cat codex.txt", "call_1"))
    responses.push(message("Wrote codex.txt."))
    responses.push(message("Second turn: 42 noted."))
    team = make_team(tmp_path, [{
        "id": "cx", "brain": "codex", "model": "gpt-5-codex", "script": None,
        "pass_env": ["OPENAI_API_KEY"], "tools": ["wait_for_message", "finish"],
        "cli": {"extra_args": responses.provider_args()}}], pricing=PRICING)
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for(ev.AGENT_STATUS, "cx", status=ev.WAITING_MESSAGE, timeout=120)
        await engine.send_user_message("cx", "remember 42")
        await asyncio.wait_for(_usage_events(watcher, 2), 120)  # the second turn completed
    finally:
        await engine.stop()
    warning = [e.data["text"] for e in watcher.find(ev.NOTICE, "cx")]
    assert any("OPENAI_API_KEY is passed into its sandbox" in w for w in warning), warning
    call = watcher.find(ev.TOOL_CALL, "cx", tool="shell")[0].data
    assert "echo made by codex" in json.dumps(call["args"])
    found = watcher.find(ev.TOOL_RESULT, "cx", call_id=call["call_id"])
    assert found
    result = found[0].data
    assert "made by codex" in result["result"] and not result["is_error"]
    assert (team.workspace_of(team.agents[0]) / "codex.txt").read_text() == "made by codex\n"
    texts = [e.data["text"] for e in watcher.find(ev.ASSISTANT_TEXT, "cx")]
    assert texts == ["Wrote codex.txt.", "Second turn: 42 noted."]
    usage = watcher.find(ev.USAGE, "cx")
    assert usage[0].data["cache_read_tokens"] == 800  # the first turn made two requests
    assert usage[1].data["agent_tokens"] == 2100 + 1050  # the thread's totals: the difference
    # the second turn continued the same thread: its request holds the first turn
    assert "made by codex" in json.dumps(responses.requests[-1]["input"])
    assert responses.headers[0]["authorization"] == f"Bearer {KEY}"
    await store.close()


async def _usage_events(watcher, n: int) -> None:
    while len(watcher.find(ev.USAGE, "cx")) < n:
        await asyncio.sleep(0.05)
