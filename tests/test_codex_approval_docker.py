"""`brain: codex` with `approval: risky`: the real `codex app-server` (0.171.0) in a real
container (no network) against the fake Responses API on the host; its approval requests
become agentorch's `command_approval` interrupts, and the person's answer is Codex's."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine import events as ev
from tests.cli_image_support import require_cli_image
from tests.fake_openai import FakeResponses, exec_command, message, serve_responses
from tests.test_codex_docker import KEY, PLANT, codex_team, mcp_call, start_with_views

pytestmark = pytest.mark.docker


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch):
    yield from serve_responses(monkeypatch, KEY)


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "build").mkdir(parents=True)
    (ws / "build" / "out.o").write_text("built\n")
    for path in (ws, ws / "build"):
        path.chmod(0o777)
    (ws / "build" / "out.o").chmod(0o666)
    return ws


async def second_request(watcher) -> ev.Event:
    async def look():
        async with watcher._changed:
            while len(found := watcher.find(ev.INTERRUPT, "cx", kind="command_approval")) < 2:
                await watcher._changed.wait()
            return found[1]
    return await asyncio.wait_for(look(), 120)


async def test_risky_commands_wait_for_the_person(tmp_path: Path,
                                                  responses: FakeResponses) -> None:
    require_cli_image()
    ws = workspace(tmp_path)
    responses.push(exec_command("date; sort build/out.o", "call_read"))
    responses.push(exec_command("rm -rf build", "call_rm1"))
    responses.push(exec_command("rm -rf build", "call_rm2"))
    responses.push(mcp_call("finish", "call_finish", summary="build removed"))
    responses.push(message("Cleaned."))
    team = codex_team(tmp_path, approval="risky", tools=["wait_for_message", "finish"],
                      sandbox_path="ws")
    engine, watcher, store = await start_with_views(team, tmp_path)
    try:
        first = await watcher.wait_for(ev.INTERRUPT, "cx", timeout=120, kind="command_approval")
        # the read-only command ran before, without asking
        read = watcher.find(ev.TOOL_RESULT, "cx", call_id="call_read")[0].data
        assert not read["is_error"] and "built" in read["result"], read
        assert first.data["command"] == "rm -rf build", first.data
        assert "rm" in first.data["reason"], first.data
        assert (ws / "build" / "out.o").exists()
        await engine.interrupts.answer(first.data["id"], {"approved": False,
                                                          "text": "keep the build"})
        await watcher.wait_for(ev.TOOL_CALL, "cx", timeout=120, call_id="call_rm2")
        second = await second_request(watcher)
        # rejected: it never ran
        declined = watcher.find(ev.TOOL_RESULT, "cx", call_id="call_rm1")[0].data
        assert declined["is_error"] and "keep the build" in declined["result"], declined
        assert (ws / "build" / "out.o").exists()
        await engine.interrupts.answer(second.data["id"], {"approved": True})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    assert engine.agents["cx"].status == ev.DONE, watcher.find(ev.AGENT_STATUS, "cx")
    assert not (ws / "build").exists()  # approved: it ran
    ran = watcher.find(ev.TOOL_RESULT, "cx", call_id="call_rm2")[0].data
    assert not ran["is_error"], ran
    # the person's reason reached Codex (steered into the turn)
    assert "keep the build" in json.dumps(responses.requests[2]["input"])
    # the key stayed outside; every response was charged through the model socket
    assert [h["authorization"] for h in responses.headers] == [f"Bearer {KEY}"] * 5
    assert len(watcher.find(ev.USAGE, "cx")) == 5
    assert [e.data["text"] for e in watcher.find(ev.ASSISTANT_TEXT, "cx")] == ["Cleaned."]
    # its team tools (MCP) need no approval of Codex's: the agent's view decides
    done = watcher.find(ev.TOOL_RESULT, "cx", call_id="call_finish")[0].data
    assert not done["is_error"], done
    assert engine.agents["cx"].summary == "build removed"
    await store.close()


async def test_a_rule_the_agent_plants_does_not_preapprove(tmp_path: Path,
                                                           responses: FakeResponses) -> None:
    """The app server has no --ignore-rules: the agent plants (approved) an execpolicy
    rule allowing `rm`, a `config.toml` trusting the workspace and a workspace
    `.codex/config.toml`; the next turn's `rm` still asks (Codex read the rule and ran `rm`
    unasked before the engine removed them before each turn)."""
    require_cli_image()
    ws = workspace(tmp_path)
    responses.push(exec_command(PLANT, "call_plant"))
    responses.push(message("Planted."))
    responses.push(exec_command("rm -rf build", "call_rm"))
    responses.push(message("Tried."))
    team = codex_team(tmp_path, approval="risky", tools=["wait_for_message", "finish"],
                      sandbox_path="ws")
    engine, watcher, store = await start_with_views(team, tmp_path)
    try:
        plant = await watcher.wait_for(ev.INTERRUPT, "cx", timeout=120, kind="command_approval")
        await engine.interrupts.answer(plant.data["id"], {"approved": True})
        await watcher.wait_for(ev.AGENT_STATUS, "cx", status=ev.WAITING_MESSAGE, timeout=120)
        planted = watcher.find(ev.TOOL_RESULT, "cx", tool="shell")[0].data
        assert planted["result"].strip().endswith("planted"), planted
        await engine.send_user_message("cx", "go on")
        ask = await second_request(watcher)
        assert ask.data["command"] == "rm -rf build"
        await engine.interrupts.answer(ask.data["id"], {"approved": False, "text": "no"})
        await watcher.wait_for(ev.ASSISTANT_TEXT, "cx", text="Tried.", timeout=120)
    finally:
        await engine.stop()
    assert (ws / "build" / "out.o").exists()
    last = responses.requests[-1]
    given = [last.get("instructions")] + [item for item in last["input"] if isinstance(
        item, dict) and item.get("role") in ("developer", "system")]
    assert "PLANTED" not in json.dumps(given) and "Approved command prefix" not in json.dumps(given)
    assert [h["authorization"] for h in responses.headers] == [f"Bearer {KEY}"] * 4
    await store.close()


async def test_always_asks_for_what_risky_lets_through(tmp_path: Path,
                                                       responses: FakeResponses) -> None:
    require_cli_image()
    workspace(tmp_path)
    responses.push(exec_command("date; sort build/out.o", "call_read"))
    responses.push(message("Read."))
    team = codex_team(tmp_path, approval="always", tools=["finish"], sandbox_path="ws")
    engine, watcher, store = await start_with_views(team, tmp_path)
    try:
        ask = await watcher.wait_for(ev.INTERRUPT, "cx", timeout=120, kind="command_approval")
        assert ask.data["command"] == "date; sort build/out.o"
        assert "approval: always" in ask.data["reason"]
        await engine.interrupts.answer(ask.data["id"], {"approved": True})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    read = watcher.find(ev.TOOL_RESULT, "cx", call_id="call_read")[0].data
    assert not read["is_error"] and "built" in read["result"], read
    await store.close()

