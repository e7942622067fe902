"""The team's shared context: tools, the control command, Claude prompts, the event log, resume."""

from __future__ import annotations

import asyncio

import pytest
from engine_support import Watcher, make_team, run_to_end, start, step
from fake_anthropic import Turn, claude_agent, fake_api_fixture, text, tool

from engine import shared_context
from engine.brains.claude_prompt import system_prompt
from engine.events import Event
from engine.export import export_markdown
from engine.recording import ControlError
from engine.resume import load_run_state
from engine.run import Engine
from engine.service.commands import dispatch
from memory.store import Store

api = fake_api_fixture()


async def test_agents_update_and_read_it_and_every_version_is_an_event(tmp_path):
    team = make_team(tmp_path, [
        {"id": "lead", "direct_communication": ["dev"], "script": [
            step("update_shared_context", text="We use tabs."),
            step("update_shared_context", text="We use tabs.\nAPI in api.py."),
            step("send_message", to="dev", text="read the context")]},
        {"id": "dev", "script": [step("wait_for_message", timeout=10),
                                 step("get_shared_context")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)

    versions = [(e.agent, e.data["version"], e.data["text"], e.data["by"])
                for e in w.find("shared_context")]
    assert versions == [("lead", 1, "We use tabs.", "lead"),
                        ("lead", 2, "We use tabs.\nAPI in api.py.", "lead")]
    assert [r["result"] for r in w.results("lead")][:2] == [{"version": 1}, {"version": 2}]
    read = w.results("dev")[-1]["result"]
    assert read == {"version": 2, "text": "We use tabs.\nAPI in api.py.", "by": "lead"}
    rows = await store.query("SELECT data FROM events WHERE type='shared_context'")
    assert len(rows) == 2  # recorded, so export and replay have every version
    run = await store.run(engine.run_id)
    events = [Event.from_row(*r) for r in await store.events(engine.run_id)]
    transcript = export_markdown(run, events)
    assert ("## Shared context\n\n- version 1 by lead: “We use tabs.”\n"
            "- version 2 by lead: “We use tabs. API in api.py.”") in transcript
    await store.close()


async def test_a_too_large_update_is_a_tool_error_and_changes_nothing(tmp_path):
    huge = "x" * (shared_context.MAX_BYTES + 1)
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("update_shared_context", text=huge), step("get_shared_context")]}])
    engine, w, store = await run_to_end(team, tmp_path)
    refused, read = w.results("a")
    assert refused["is_error"] and "the limit is" in refused["result"]["error"]
    assert read["result"]["version"] == 0 and not w.find("shared_context")
    await store.close()


async def test_an_agent_without_the_tool_cannot_change_it(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "tools": ["get_shared_context", "finish"],
                                 "script": [step("update_shared_context", text="mine now")]}])
    engine, w, store = await run_to_end(team, tmp_path)
    (refused,) = w.results("a")
    assert refused["is_error"] and "not available to a" in refused["result"]["error"]
    assert not w.find("shared_context")
    await store.close()


async def test_the_person_sets_and_reads_it_with_the_control_command(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("wait_for_message", timeout=30),
                                                       step("get_shared_context")]}])
    engine, w, store = await start(team, tmp_path)
    got = await engine.handle_command({"type": "shared_context", "text": "Ship by Friday."})
    assert got == {"version": 1, "text": "Ship by Friday.", "by": "user"}
    assert await engine.handle_command({"type": "shared_context"}) == got
    # who changed it comes from the transport (the control socket's client), never the command
    by_mcp = await dispatch(engine, {"type": "shared_context", "text": "v2", "by": "a"},
                            via="mcp (pid 7)")
    assert by_mcp["by"] == "user via mcp (pid 7)" and by_mcp["version"] == 2
    with pytest.raises(ControlError, match="`text` as a string"):
        await engine.handle_command({"type": "shared_context", "text": 5})
    event = await w.wait_for("shared_context", version=1)
    assert event.agent is None and event.data["by"] == "user"
    await engine.send_user_message("a", "go")
    await asyncio.wait_for(engine.wait(), 30)
    assert w.results("a")[-1]["result"]["text"] == "v2"
    await store.close()


async def test_a_resumed_run_goes_on_from_the_newest_version(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("update_shared_context", text="first"), step("update_shared_context", text="second"),
        step("wait_for_message", timeout=60), step("get_shared_context"),
        step("update_shared_context", text="third")]}])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("shared_context", "a", version=2)
    await w.wait_for("agent_status", "a", status="waiting_message")
    await engine.stop()
    await store.close()

    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, run_id=engine.run_id)
    engine.pending_resume = await load_run_state(store, engine.run_id)
    w = Watcher(engine)
    await engine.start()
    await engine.send_user_message("a", "go on")
    await asyncio.wait_for(engine.wait(), 30)
    read, updated = [r["result"] for r in w.results("a")][-2:]
    assert read == {"version": 2, "text": "second", "by": "a"}
    assert updated == {"version": 3}
    await store.close()


async def test_a_claude_agent_gets_each_change_in_its_next_turn(api, tmp_path):
    api.push("writer",
             Turn([tool("wait_for_message", timeout=30)]),
             Turn([text("noted"), tool("update_shared_context", text="Branch names: fix/*.")]),
             Turn([tool("finish", summary="read the new context")]))
    team = make_team(tmp_path, [claude_agent("writer", sandbox_path="ws")])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("agent_status", "writer", status="waiting_message")
    await engine.handle_command({"type": "shared_context", "text": "Branch names: topic/*."})
    await engine.send_user_message("writer", "context changed")
    await asyncio.wait_for(engine.wait(), 30)

    first, second, third = api.requests_of("writer")
    assert "shared context" not in first.system_text.split("## How you work")[0]
    assert second.system_text == first.system_text  # the cached prefix never changes
    texts = [b["text"] for b in second.body["messages"][-1]["content"] if b["type"] == "text"]
    assert texts[0] == ("[the team's shared context changed: version 1, by user; it now reads]"
                        "\nBranch names: topic/*.")
    # its own change is not echoed back to it
    assert not any("context changed: version 2" in b.get("text", "")
                   for b in third.body["messages"][-1]["content"])
    # a Claude agent that starts later (or is resumed) has the newest in its system prompt
    runtime = engine.agents["writer"]
    section = await shared_context.prompt_for(runtime)
    assert section == "## The team's shared context (version 2, by writer)\nBranch names: fix/*."
    assert section in system_prompt(runtime, team.name, section)
    await store.close()
