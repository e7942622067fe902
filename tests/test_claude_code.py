"""The real Claude Code in a real container against the fake Messages API on 127.0.0.1.

The CLI reaches the fake through the agent's model socket (engine/brains/model_socket.py):
the container has no network and never sees the key.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine import events as ev
from tests.cli_image_support import CLI_IMAGE, require_cli_image
from tests.engine_support import make_team, run_to_end, start
from tests.fake_anthropic import FakeAnthropic, Turn, fake_api_fixture, text, tool

pytestmark = pytest.mark.docker

api = fake_api_fixture()
MODEL = "claude-sonnet-4-5"


def cli_team(tmp_path: Path, **agent):
    fields = {"id": "coder", "brain": "claude-code", "model": MODEL, "script": None,
              "tools": ["send_message", "finish"], **agent}
    return make_team(tmp_path, [fields], sandbox={"backend": "docker", "image": CLI_IMAGE})


async def test_a_turn_becomes_events_console_and_budget(tmp_path: Path, api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([text("Writing the file."),
                            tool("Bash", command="echo made by claude > out.txt && cat out.txt",
                                 description="write a file")]),
             Turn([text("All done: out.txt written.")]))
    team = cli_team(tmp_path, approval="never")
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=180)
    assert engine.agents["coder"].status == ev.DONE, watcher.find(ev.AGENT_STATUS, "coder")
    call = watcher.find(ev.TOOL_CALL, "coder", tool="Bash")[0]
    assert call.data["args"]["command"].startswith("echo made by claude")
    result = watcher.find(ev.TOOL_RESULT, "coder", call_id=call.data["call_id"])[0]
    assert result.data["result"] == "made by claude" and not result.data["is_error"]
    texts = [e.data["text"] for e in watcher.find(ev.ASSISTANT_TEXT, "coder")]
    assert texts == ["Writing the file.", "All done: out.txt written."]
    usage = watcher.find(ev.USAGE, "coder")
    assert len(usage) == 2 and all(u.data["cost"] > 0 for u in usage)
    assert usage[-1].data["agent_tokens"] == sum(
        u.data["input_tokens"] + u.data["output_tokens"] for u in usage)
    assert (team.workspace_of(team.agents[0], engine.run_id) / "out.txt").read_text() == \
        "made by claude\n"
    # the key was added outside: the CLI sent a placeholder, the fake got the real one
    assert [r.headers["x-api-key"] for r in api.requests] == ["sk-ant-test"] * 2
    await store.close()


async def test_the_key_never_enters_the_container(tmp_path: Path, api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([tool("Bash", command="env; cat /agentorch/ctl/settings.json",
                                 description="look")]),
             Turn([text("looked")]))
    engine, watcher, store = await run_to_end(cli_team(tmp_path, approval="never"), tmp_path,
                                              timeout=180)
    seen = watcher.find(ev.TOOL_RESULT, "coder", tool="Bash")[0].data["result"]
    assert "ANTHROPIC_UNIX_SOCKET=/agentorch/ctl/api.sock" in seen
    assert "sk-ant-test" not in seen
    assert "sk-ant-test" not in json.dumps([e.data for e in watcher.events])
    await store.close()


async def test_a_message_is_the_next_turn_of_the_same_session(tmp_path: Path,
                                                              api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([text("Ready for work.")]), Turn([text("Got it: 42.")]))
    team = cli_team(tmp_path, approval="never", tools=["wait_for_message", "finish"])
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for(ev.AGENT_STATUS, "coder", timeout=120, status=ev.WAITING_MESSAGE)
        await engine.send_user_message("coder", "the answer is 42")
        await watcher.wait_for(ev.ASSISTANT_TEXT, "coder", timeout=120, text="Got it: 42.")
        second = api.requests_of("coder")[-1].body["messages"]
        assert "the answer is 42" in json.dumps(second)
        first_session = api.requests_of("coder")[0].headers["x-claude-code-session-id"]
        assert api.requests_of("coder")[-1].headers["x-claude-code-session-id"] == first_session
    finally:
        await engine.stop()
        await store.close()


async def test_garbage_and_a_crash_give_a_clear_status(tmp_path: Path, api: FakeAnthropic) -> None:
    require_cli_image()
    # an extra argument the CLI refuses: it prints an error (not JSON) and exits
    team = cli_team(tmp_path, cli={"extra_args": ["--no-such-flag"]})
    engine, watcher, store = await start(team, tmp_path)
    try:
        intr = await watcher.wait_for(ev.INTERRUPT, "coder", timeout=120)
        assert "without a result line" in intr.data["prompt"]
        assert "no-such-flag" in intr.data["prompt"]
        await engine.interrupts.answer(intr.data["id"], {"text": "stop"})
        await asyncio.wait_for(engine.wait(), 60)
        assert engine.agents["coder"].status == ev.FAILED
    finally:
        await engine.stop()
        await store.close()


async def test_plan_mode_routes_the_plan_to_the_approval_interrupt(tmp_path: Path,
                                                                   api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([tool("ExitPlanMode", plan="1. write plan.txt\n2. check it")]),
             Turn([text("Plan proposed.")]),
             Turn([tool("Bash", command="echo planned > plan.txt", description="do it")]),
             Turn([text("Done as planned.")]))
    team = cli_team(tmp_path, approval="plan", tools=["propose_plan", "finish"])
    engine, watcher, store = await start(team, tmp_path)
    try:
        intr = await watcher.wait_for(ev.INTERRUPT, "coder", timeout=120, kind="plan_approval")
        assert intr.data["steps"] == ["1. write plan.txt", "2. check it"]
        first = api.requests_of("coder")[0]
        assert "plan mode" in json.dumps(first.body).lower()
        await engine.interrupts.answer(intr.data["id"], {"approved": True})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    assert engine.agents["coder"].status == ev.DONE
    assert "Your plan was approved" in json.dumps(api.requests_of("coder")[2].body["messages"])
    assert (team.workspace_of(team.agents[0], engine.run_id) / "plan.txt").read_text() == "planned\n"
    await store.close()


async def test_a_message_to_another_agent_through_the_mcp_view(tmp_path: Path,
                                                               api: FakeAnthropic) -> None:
    require_cli_image()
    from engine.run import Engine
    from engine.service.agent_socket import AgentViews
    from memory.store import Store
    from tests.engine_support import Watcher

    api.push("coder", Turn([tool("mcp__agentorch__send_message", to="other", text="hello via MCP")]),
             Turn([text("Sent.")]))
    team = make_team(tmp_path, [
        {"id": "coder", "brain": "claude-code", "model": MODEL, "script": None,
         "approval": "never", "tools": ["send_message", "finish"],
         "direct_communication": ["other"]},
        {"id": "other", "script": [{"tool": "wait_for_message", "args": {"timeout": 120}}]}],
        sandbox={"backend": "docker", "image": CLI_IMAGE})
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    engine.agent_views = AgentViews(engine)
    watcher = Watcher(engine)
    await engine.start()
    try:
        await asyncio.wait_for(engine.wait(), 180)
    finally:
        await engine.stop()
    got = watcher.find(ev.TOOL_RESULT, "other", tool="wait_for_message")[0].data["result"]
    assert got["text"] == "hello via MCP" and got["from"] == "coder"
    await store.close()


async def test_the_budget_stops_the_cli_mid_turn(tmp_path: Path, api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([tool("Bash", command="echo one", description="first")]),
             Turn([tool("Bash", command="echo two > two.txt", description="second")]),
             Turn([text("never reached")]))
    team = cli_team(tmp_path, approval="never", budget={"tokens": 1000})
    engine, watcher, store = await start(team, tmp_path)
    try:
        intr = await watcher.wait_for(ev.INTERRUPT, "coder", timeout=120, kind="budget")
        await watcher.wait_for(ev.TOOL_RESULT, "coder", timeout=60, tool="Bash")
        # the CLI went on to its next request: it waits in the model socket, unsent
        assert len(api.requests_of("coder")) == 1
        await engine.interrupts.answer(intr.data["id"], {"approved": False, "text": "too dear"})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    assert len(api.requests_of("coder")) == 1
    status = watcher.find(ev.AGENT_STATUS, "coder", status=ev.FAILED)[0].data
    assert "stopped at its budget" in status["reason"] and "too dear" in status["reason"]
    assert not (team.workspace_of(team.agents[0], engine.run_id) / "two.txt").exists()
    await store.close()


async def _start_with_views(team, tmp_path: Path):
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


@pytest.mark.parametrize("approved", [True, False])
async def test_a_permission_prompt_is_answered_from_the_queue(tmp_path: Path, api: FakeAnthropic,
                                                              approved: bool) -> None:
    require_cli_image()
    api.push("coder", Turn([tool("Bash", command="echo approved > a.txt", description="write")]),
             Turn([text("over")]))
    team = cli_team(tmp_path, approval="always")
    engine, watcher, store = await _start_with_views(team, tmp_path)
    try:
        intr = await watcher.wait_for(ev.INTERRUPT, "coder", timeout=120, kind="command_approval")
        assert "echo approved > a.txt" in json.dumps(intr.data)
        await engine.interrupts.answer(intr.data["id"], {"approved": approved, "text": "no"})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    result = watcher.find(ev.TOOL_RESULT, "coder", tool="Bash")[0].data
    assert result["is_error"] is not approved, result
    written = team.workspace_of(team.agents[0], engine.run_id) / "a.txt"
    assert written.exists() is approved
    await store.close()


async def test_finish_through_mcp_ends_the_agent_after_its_turn(tmp_path: Path,
                                                                api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([tool("mcp__agentorch__finish", summary="shipped it")]),
             Turn([text("Finished.")]))
    team = cli_team(tmp_path, approval="never", tools=["wait_for_message", "finish"])
    engine, watcher, store = await _start_with_views(team, tmp_path)
    try:
        await asyncio.wait_for(engine.wait(), 180)  # done: it does not wait for messages
    finally:
        await engine.stop()
    status = watcher.find(ev.AGENT_STATUS, "coder", status=ev.DONE)[0].data
    assert status["reason"] == "shipped it"
    assert not watcher.find(ev.TOOL_CALL, "coder", tool="wait_for_message")
    await store.close()


async def test_cancel_kills_the_cli_and_what_it_started(tmp_path: Path, api: FakeAnthropic) -> None:
    require_cli_image()
    api.push("coder", Turn([tool("Bash", command="tail -f /dev/null", description="forever")]))
    team = make_team(tmp_path, [
        {"id": "coder", "brain": "claude-code", "model": MODEL, "script": None,
         "approval": "never", "tools": ["finish"]},
        {"id": "other", "script": [{"tool": "wait_for_message", "args": {"timeout": 300}}]}],
        sandbox={"backend": "docker", "image": CLI_IMAGE})
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for(ev.TOOL_CALL, "coder", timeout=120, tool="Bash")
        sandbox = engine.agents["coder"].sandbox
        await asyncio.wait_for(_until_running(sandbox, "tail -f /dev/null"), 60)
        await engine.cancel("coder")
        await watcher.wait_for(ev.AGENT_STATUS, "coder", timeout=60, status=ev.CANCELLED)
        left = await _processes(sandbox)
        assert "claude" not in left and "tail -f" not in left, left
    finally:
        await engine.stop()
        await store.close()


async def _until_running(sandbox, command: str) -> None:
    while command not in await _processes(sandbox):
        await asyncio.sleep(0.1)


async def _processes(sandbox) -> str:
    """Every command line in the container (as root, beside the agent's session)."""
    from sandboxes.docker import _get_client

    api = _get_client().api

    def ps() -> str:
        exec_id = api.exec_create(sandbox.container_id, ["ps", "-o", "args"], user="0:0")["Id"]
        return api.exec_start(exec_id).decode("utf-8", "replace")

    return await asyncio.to_thread(ps)
