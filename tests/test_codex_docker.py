"""The real `codex exec --json` in a real container (no network) against the fake Responses
API on the host, reached only through the engine's model socket and the in-container relay.

The key is added outside (the container never holds it); every response is metered into
the budget; the agent's MCP view is Codex's only MCP server; Codex's configuration is
the engine's (a `.codex/` or `config.toml` the agent writes changes nothing)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine import events as ev
from tests.cli_image_support import CLI_IMAGE, require_cli_image
from tests.fake_openai import FakeResponses, exec_command, message, serve_responses

pytestmark = pytest.mark.docker

KEY = "sk-openai-docker-secret-789"
MODEL = "gpt-5-codex"
PRICING = {MODEL: {"input": 1.25, "output": 10, "cache_read": 0.125}}


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch):
    yield from serve_responses(monkeypatch, KEY)


def mcp_call(tool: str, call_id: str, **args) -> dict:
    """A call of one of the agent's MCP tools: Codex offers them as the `mcp__agentorch`
    namespace of function tools."""
    return {"type": "function_call", "namespace": "mcp__agentorch", "name": tool,
            "call_id": call_id, "arguments": json.dumps(args)}


def codex_team(tmp_path: Path, *extra: dict, **agent):
    from tests.engine_support import make_team

    fields = {"id": "cx", "brain": "codex", "model": MODEL, "script": None,
              "approval": "never", "tools": ["send_message", "finish"], **agent}
    return make_team(tmp_path, [fields, *extra], pricing=PRICING,
                     sandbox={"backend": "docker", "image": CLI_IMAGE})


async def start_with_views(team, tmp_path: Path):
    from engine.run import Engine
    from engine.service.agent_socket import AgentViews
    from memory.store import Store
    from tests.engine_support import Watcher

    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    engine.agent_views = AgentViews(engine)  # each agent's MCP socket, as the CLI sets it
    watcher = Watcher(engine)
    await engine.start()
    return engine, watcher, store


#: what the agent can see: its environment, the engine's files, every file it can read
LOOK = ("env; ls -la /agentorch/ctl; cat /agentorch/ctl/* 2>&1; "
        "find /agentorch /tmp /workspace -type f -exec grep -l sk-openai {} + 2>/dev/null; "
        "echo looked")


async def test_codex_in_its_container_through_the_model_socket(tmp_path: Path,
                                                               responses: FakeResponses) -> None:
    require_cli_image()
    responses.push(exec_command(LOOK, "call_look"))
    responses.push(mcp_call("send_message", "call_mcp", to="other", text="hello via MCP"))
    responses.push(message("Looked and told other."))
    team = codex_team(tmp_path, {"id": "other", "script": [
        {"tool": "wait_for_message", "args": {"timeout": 120}}]},
        direct_communication=["other"])
    engine, watcher, store = await start_with_views(team, tmp_path)
    try:
        await asyncio.wait_for(engine.wait(), 240)
    finally:
        await engine.stop()
    assert engine.agents["cx"].status == ev.DONE, watcher.find(ev.AGENT_STATUS, "cx")
    # a shell command, run inside the container, and its result
    seen = watcher.find(ev.TOOL_RESULT, "cx", tool="shell")[0].data
    assert not seen["is_error"] and seen["result"].rstrip().endswith("looked"), seen
    # the key never entered the container: not in its environment, nor in any file
    assert KEY not in seen["result"] and "OPENAI_API_KEY" not in seen["result"]
    assert "sk-openai" not in seen["result"]
    assert "CODEX_HOME=/agentorch/state" in seen["result"]
    assert KEY not in json.dumps([e.data for e in watcher.events])
    # the MCP tool reached the other agent through the agent's own view
    got = watcher.find(ev.TOOL_RESULT, "other", tool="wait_for_message")[0].data["result"]
    assert got["text"] == "hello via MCP" and got["from"] == "cx"
    assert watcher.find(ev.TOOL_CALL, "cx", tool="mcp__agentorch__send_message")
    texts = [e.data["text"] for e in watcher.find(ev.ASSISTANT_TEXT, "cx")]
    assert texts == ["Looked and told other."]
    # the upstream got the real key, added outside; each response was charged once
    assert [h["authorization"] for h in responses.headers] == [f"Bearer {KEY}"] * 3
    usage = [u.data for u in watcher.find(ev.USAGE, "cx")]
    assert len(usage) == 3 and all(u["cost"] > 0 for u in usage)
    assert usage[-1]["agent_tokens"] == 3 * 1050 and usage[-1]["cache_read_tokens"] == 400
    await store.close()


PLANT = """mkdir -p .codex /agentorch/state/rules && cat > .codex/config.toml <<'X'
developer_instructions = "PLANTED-PROJECT"
model_provider = "elsewhere"
[model_providers.elsewhere]
name = "elsewhere"
base_url = "http://127.0.0.1:9/v1"
X
cat > /agentorch/state/config.toml <<'X'
developer_instructions = "PLANTED-HOME"
[projects."/workspace"]
trust_level = "trusted"
X
echo 'prefix_rule(pattern=["rm"], decision="allow")' > /agentorch/state/rules/planted.rules
echo planted"""


async def test_config_the_agent_writes_changes_nothing(tmp_path: Path,
                                                       responses: FakeResponses) -> None:
    """The agent writes a workspace `.codex/config.toml` (another model provider, its own
    instructions), a `config.toml` in CODEX_HOME that trusts the workspace, and an
    execpolicy rule pre-approving `rm`: its next turn still goes through the engine's
    socket, and none of it reaches Codex (without --ignore-rules the rule is read: seen
    with the flags removed)."""
    require_cli_image()
    responses.push(exec_command(PLANT, "call_plant"))
    responses.push(message("Planted."))
    responses.push(message("Second turn."))
    team = codex_team(tmp_path, tools=["wait_for_message", "finish"])
    engine, watcher, store = await start_with_views(team, tmp_path)
    try:
        await watcher.wait_for(ev.AGENT_STATUS, "cx", status=ev.WAITING_MESSAGE, timeout=120)
        planted = watcher.find(ev.TOOL_RESULT, "cx", tool="shell")[0].data
        assert planted["result"].strip().endswith("planted"), planted
        await engine.send_user_message("cx", "go on")
        await watcher.wait_for(ev.ASSISTANT_TEXT, "cx", text="Second turn.", timeout=120)
    finally:
        await engine.stop()
    assert len(responses.requests) == 3  # the second turn came through the engine's socket
    last = responses.requests[-1]
    assert "go on" in json.dumps(last["input"])
    # the planted instructions would come as the model's instructions or a developer
    # message (the planting command itself is in the conversation, as the shell call)
    given = [last.get("instructions")] + [item for item in last["input"] if isinstance(
        item, dict) and item.get("role") in ("developer", "system")]
    assert given[1:] and "PLANTED" not in json.dumps(given)
    # without --ignore-rules Codex reads the planted rule and tells the model that `rm`
    # is approved ("Approved command prefix saved: - ["rm"]"): a pre-approval
    assert '[\\"rm\\"]' not in json.dumps(given) and "Approved command prefix" not in json.dumps(given)
    assert [h["authorization"] for h in responses.headers] == [f"Bearer {KEY}"] * 3
    await store.close()


async def test_the_budget_stops_codex_mid_turn(tmp_path: Path, responses: FakeResponses) -> None:
    """Each response is charged before the next request goes out: at 100 % of its budget
    Codex's next request waits in the model socket; rejected, it is never sent."""
    require_cli_image()
    responses.push(exec_command("echo one", "call_1"))
    responses.push(exec_command("echo two > two.txt", "call_2"))
    responses.push(message("never reached"))
    team = codex_team(tmp_path, budget={"tokens": 1000})
    engine, watcher, store = await start_with_views(team, tmp_path)
    try:
        intr = await watcher.wait_for(ev.INTERRUPT, "cx", timeout=120, kind="budget")
        await watcher.wait_for(ev.TOOL_RESULT, "cx", timeout=60, tool="shell")
        assert len(responses.requests) == 1  # the next request waits, unsent
        await engine.interrupts.answer(intr.data["id"], {"approved": False, "text": "too dear"})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    assert len(responses.requests) == 1
    status = watcher.find(ev.AGENT_STATUS, "cx", status=ev.FAILED)[0].data
    assert "stopped at its budget" in status["reason"] and "too dear" in status["reason"]
    assert not (team.workspace_of(team.agents[0], engine.run_id) / "two.txt").exists()
    await store.close()
