"""The Claude brain against a fake Messages API (real SDK, real engine, real store)."""

from __future__ import annotations

import asyncio
import json
import threading

from engine_support import make_team, run_to_end, start, step
from fake_anthropic import Turn, claude_agent, fake_api_fixture, text, tool

api = fake_api_fixture()


def tool_results(request) -> list[dict]:
    last = request.body["messages"][-1]
    assert last["role"] == "user"
    return [b for b in last["content"] if b["type"] == "tool_result"]


def user_texts(request) -> list[str]:
    last = request.body["messages"][-1]
    return [b["text"] for b in last["content"] if b["type"] == "text"]


async def test_multi_turn_conversation_runs_a_command_sends_a_message_and_finishes(api, tmp_path):
    api.push("coder",
             Turn([text("Let me look around first."), tool("run_command", command="echo hi")]),
             Turn([tool("send_message", to="reviewer", text="please review")]),
             Turn([text("All done."), tool("finish", summary="ran echo, asked for review")]))
    team = make_team(tmp_path, [
        claude_agent("coder", direct_communication=["reviewer"], sandbox_path="ws",
                     initial_instructions="Say hi from the shell."),
        {"id": "reviewer", "script": [step("wait_for_message", timeout=10)]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)

    assert engine.status == "finished" and api.exhausted == 0
    assert engine.agents["coder"].summary == "ran echo, asked for review"
    first, second, third = api.requests_of("coder")
    assert first.body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Say hi from the shell.",
         "cache_control": {"type": "ephemeral"}}]}]
    assert first.body["stream"] is True and first.body["model"] == "claude-sonnet-5-5"
    # the command's result goes back as a tool_result paired with its tool_use id
    call_id = first_reply_tool_id(second)
    (result,) = tool_results(second)
    assert result["tool_use_id"] == call_id and "is_error" not in result
    assert json.loads(result["content"])["exit_code"] == 0
    assert "hi" in json.loads(result["content"])["output"]
    (sent,) = tool_results(third)
    assert json.loads(sent["content"])["delivered_to"] == ["reviewer"]
    # the reviewer got the message
    assert w.results("reviewer")[0]["result"]["text"] == "please review"
    # usage was charged at Sonnet prices
    usage = w.find("usage", "coder")
    assert len(usage) == 3 and usage[-1].data["agent_cost"] > 0
    # the conversation is stored for a resume
    row = await store.query("SELECT conversation FROM agents WHERE id='coder'")
    stored = json.loads(row[0][0])
    assert [m["role"] for m in stored] == ["user", "assistant"] * 3
    assert stored[-1]["content"][-1]["name"] == "finish"
    await store.close()


def first_reply_tool_id(request) -> str:
    assistant = request.body["messages"][1]
    assert assistant["role"] == "assistant"
    return next(b["id"] for b in assistant["content"] if b["type"] == "tool_use")


async def test_parallel_tool_calls_run_in_order_and_return_in_one_turn(api, tmp_path):
    api.push("a",
             Turn([tool("write_file", path="x.txt", content="one"),
                   tool("read_file", path="missing.txt"),
                   tool("write_file", path="y.txt", content="two")]),
             Turn([tool("finish", summary="wrote two files")]))
    team = make_team(tmp_path, [claude_agent("a", sandbox_path="ws")])
    engine, w, store = await run_to_end(team, tmp_path)

    assert engine.status == "finished"
    assert (tmp_path / "ws" / "x.txt").read_text() == "one"
    assert (tmp_path / "ws" / "y.txt").read_text() == "two"
    first, second = api.requests_of("a")
    ids = [b["id"] for b in second.body["messages"][1]["content"] if b["type"] == "tool_use"]
    results = tool_results(second)
    assert [r["tool_use_id"] for r in results] == ids
    assert [r.get("is_error", False) for r in results] == [False, True, False]
    assert "no file 'missing.txt'" in results[1]["content"]
    await store.close()


async def test_streamed_text_reaches_events_as_it_arrives(api, tmp_path):
    words = "streaming " * 40
    api.push("a", Turn([text(words, deltas=40), tool("finish", summary="ok")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await run_to_end(team, tmp_path)

    chunks = w.find("assistant_text", "a")
    assert "".join(c.data["text"] for c in chunks) == words
    assert chunks[-1].data["final"] is True and all(not c.data["final"] for c in chunks[:-1])
    assert chunks[0].data["turn"] == 1
    # the text is streamed before the tool call it precedes is run
    seqs = [e.seq for e in w.events if e.agent == "a" and e.type in ("assistant_text", "tool_call")]
    kinds = [e.type for e in w.events if e.agent == "a" and e.seq in seqs]
    assert kinds.index("tool_call") > kinds.index("assistant_text")
    await store.close()


async def test_cache_control_marks_the_stable_prefix_and_the_newest_turns(api, tmp_path):
    api.push("a", Turn([tool("report_progress", text="step 1")]),
             Turn([tool("report_progress", text="step 2")]),
             Turn([tool("finish", summary="ok")]))
    team = make_team(tmp_path, [claude_agent("a", description="Tests caching.")])
    engine, w, store = await run_to_end(team, tmp_path)

    reqs = api.requests_of("a")
    for req in reqs:
        system = req.body["system"]
        assert system[-1]["cache_control"] == {"type": "ephemeral"}
        assert req.body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in t for t in req.body["tools"][:-1])
    # the system prompt is byte-identical on every request (so the cache hits)
    assert len({json.dumps(r.body["system"]) for r in reqs}) == 1
    marked = [i for i, m in enumerate(reqs[-1].body["messages"])
              if any("cache_control" in b for b in m["content"])]
    assert marked == [2, 4]  # the two newest user turns
    await store.close()


async def test_the_model_sees_only_the_allowed_tools(api, tmp_path):
    api.push("a", Turn([tool("run_command", command="rm -rf /")]),
             Turn([tool("finish", summary="could not")]))
    team = make_team(tmp_path, [claude_agent("a", tools=["read_file", "report_progress",
                                                           "finish"])])
    engine, w, store = await run_to_end(team, tmp_path)

    first, second = api.requests_of("a")
    assert [t["name"] for t in first.body["tools"]] == ["read_file", "report_progress", "finish"]
    assert all(set(t) >= {"name", "description", "input_schema"} for t in first.body["tools"])
    (refused,) = tool_results(second)
    assert refused["is_error"] is True and "not available" in refused["content"]
    system = first.system_text
    assert "run_command" not in system and "`finish`" in system
    await store.close()


async def test_system_prompt_is_composed_from_the_agent_and_its_team(api, tmp_path):
    (tmp_path / "rules.md").write_text("Always write tests first.\n")
    (tmp_path / "mem.md").write_text("The build uses make.\n")
    api.push("coder", Turn([tool("finish", summary="ok")]))
    team = make_team(tmp_path, [
        claude_agent("coder", type="coder", description="Writes the code.",
                     responsibilities=["write code", "run the tests"], rules_file="rules.md",
                     memory_file="mem.md", direct_communication=["planner"],
                     approval="plan", initial_instructions="Build the parser."),
        {"id": "planner", "type": "planner", "description": "Plans the work."},
    ], name="parsers")
    engine, w, store = await run_to_end(team, tmp_path)

    (req,) = api.requests_of("coder")
    system = req.system_text
    assert system.startswith("You are coder, the coder, one of the AI agents of the team 'parsers'")
    for expected in ("Writes the code.", "- write code", "- run the tests",
                     "Always write tests first.", "The build uses make.",
                     "- planner [planner]: Plans the work.", "You may message: planner.",
                     "call `propose_plan`"):
        assert expected in system
    assert req.body["messages"][0]["content"][0]["text"] == "Build the parser."
    assert req.body["max_tokens"] == 16_384
    await store.close()


async def test_inbox_messages_arriving_mid_turn_are_delivered_at_the_next_turn(api, tmp_path):
    hold = threading.Event()
    api.push("a", Turn([tool("report_progress", text="working")], wait=hold),
             Turn([tool("finish", summary="read it")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await start(team, tmp_path)
    await asyncio.sleep(0.2)  # the first request is in flight, held by the server
    await engine.send_user_message("a", "also check the README")
    hold.set()
    await asyncio.wait_for(engine.wait(), 15)

    first, second = api.requests_of("a")
    assert len(tool_results(second)) == 1
    (note,) = user_texts(second)
    assert note.startswith("[message ") and "from user" in note
    assert note.endswith("also check the README")
    await store.close()


async def test_a_waiting_agent_wakes_on_a_message(api, tmp_path):
    api.push("a", Turn([tool("wait_for_message", timeout=10)]),
             Turn([tool("finish", summary="got it")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("agent_status", "a", status="waiting_message")
    await engine.send_user_message("a", "wake up")
    await asyncio.wait_for(engine.wait(), 15)

    (result,) = tool_results(api.requests_of("a")[1])
    assert json.loads(result["content"])["text"] == "wake up"
    await store.close()


async def test_a_text_only_turn_is_nudged_once_then_ends_the_agent(api, tmp_path):
    api.push("a", Turn([text("I think I am done.")]), Turn([text("Yes, finished: all good.")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await run_to_end(team, tmp_path)

    first, second = api.requests_of("a")
    (nudge,) = user_texts(second)
    assert "call `finish`" in nudge
    assert engine.agents["a"].status == "done"
    assert engine.agents["a"].summary == "" and api.exhausted == 0
    status = w.find("agent_status", "a", status="done")[0]
    assert status.data["reason"] == "Yes, finished: all good."
    await store.close()


async def test_a_nudged_agent_that_goes_on_working_is_nudged_again_later(api, tmp_path):
    api.push("a", Turn([text("Thinking...")]),
             Turn([tool("report_progress", text="back at it")]),
             Turn([text("Pausing to think.")]),
             Turn([tool("finish", summary="done")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await run_to_end(team, tmp_path)
    assert engine.agents["a"].summary == "done" and api.exhausted == 0
    assert len(api.requests_of("a")) == 4
    await store.close()


async def test_a_reply_cut_off_at_max_tokens_asks_the_model_to_go_on(api, tmp_path):
    api.push("a", Turn([tool("write_file", path="big.txt", content="x" * 200)],
                       stop_reason="max_tokens", keep_json_open=True),
             Turn([tool("finish", summary="gave up")]))
    team = make_team(tmp_path, [claude_agent("a", max_tokens=100)])
    engine, w, store = await run_to_end(team, tmp_path)

    first, second = api.requests_of("a")
    assert first.body["max_tokens"] == 100
    (result,) = tool_results(second)  # the broken call is not run but still gets a result
    assert result["is_error"] is True and "cut off" in result["content"]
    assert "max_tokens limit (100 tokens)" in user_texts(second)[0]
    assert not (tmp_path / "big.txt").exists() and not w.find("tool_call", "a", tool="write_file")
    assert engine.agents["a"].summary == "gave up"
    await store.close()


async def test_thinking_blocks_go_back_verbatim_with_their_signature(api, tmp_path):
    from fake_anthropic import Thinking

    api.push("a", Turn([Thinking("I should report first.", "sig-123"),
                        tool("report_progress", text="hi")]),
             Turn([tool("finish", summary="ok")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await run_to_end(team, tmp_path)

    second = api.requests_of("a")[1]
    thinking = second.body["messages"][1]["content"][0]
    assert thinking == {"type": "thinking", "thinking": "I should report first.",
                        "signature": "sig-123"}
    await store.close()
