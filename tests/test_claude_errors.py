"""API errors: the SDK's retries, and what a person sees when retrying does not help."""

from __future__ import annotations

import asyncio

import pytest
from engine_support import make_team, run_to_end, start
from fake_anthropic import (
    Failure,
    Turn,
    bad_key,
    bad_request,
    claude_agent,
    fake_api_fixture,
    overloaded,
    rate_limited,
    spend_limit,
    text,
    tool,
)

from engine.brains.base import BrainError

api = fake_api_fixture()


async def test_the_sdk_retries_429_and_529_and_the_agent_goes_on(api, tmp_path):
    api.push("a", rate_limited(2), overloaded(1), Turn([tool("finish", summary="made it")]))
    team = make_team(tmp_path, [claude_agent("a", max_retries=3)])
    engine, w, store = await run_to_end(team, tmp_path)

    assert engine.status == "finished" and engine.agents["a"].summary == "made it"
    assert [r.status for r in api.requests] == [429, 429, 529, 200]
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1", "2", "3"]
    assert not w.find("interrupt")
    await store.close()


async def test_retries_exhausted_ask_the_person_and_retry_goes_on(api, tmp_path):
    api.push("a", Failure(500, "api_error", "Internal server error", times=2),
             Turn([tool("finish", summary="second time lucky")]))
    team = make_team(tmp_path, [claude_agent("a", max_retries=1)])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="debug_request")
    assert intr.data["options"] == ["retry", "stop"]
    assert "the API failed (500 api_error) after 1 retries" in intr.data["prompt"]
    assert engine.agents["a"].status == "waiting_user"
    await engine.answer(intr.data["id"], "retry")
    await asyncio.wait_for(engine.wait(), 15)

    assert engine.agents["a"].summary == "second time lucky"
    assert [r.status for r in api.requests] == [500, 500, 200]
    await store.close()


async def test_an_invalid_key_stops_the_agent_with_a_clear_message_and_an_interrupt(api, tmp_path):
    api.push("a", bad_key())
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="debug_request")
    status = engine.agents["a"]
    assert status.status == "waiting_user"
    assert "API key in ANTHROPIC_API_KEY was refused (401" in status.activity
    assert "Answer `retry`" in intr.data["prompt"]
    notice = w.find("notice", "a", level="error")[0]
    assert "refused (401 authentication_error)" in notice.data["text"]
    await engine.answer(intr.data["id"], "stop")
    await asyncio.wait_for(engine.wait(), 15)

    assert engine.agents["a"].status == "failed" and engine.status == "failed"
    reason = w.find("agent_status", "a", status="failed")[0].data["reason"]
    assert reason == ("the API key in ANTHROPIC_API_KEY was refused (401 authentication_error); "
                      "set a valid key")
    assert len(api.requests) == 1  # a 401 is never retried by itself
    await store.close()


async def test_retry_after_an_invalid_key_tries_again(api, tmp_path):
    api.push("a", bad_key(), Turn([tool("finish", summary="key fixed")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="debug_request")
    await engine.answer(intr.data["id"], " Retry ")
    await asyncio.wait_for(engine.wait(), 15)
    assert engine.agents["a"].status == "done"
    assert engine.agents["a"].summary == "key fixed"
    await store.close()


async def test_a_bad_request_names_what_the_api_said(api, tmp_path):
    api.push("a", bad_request("messages.1: tool_use ids must be unique"))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="debug_request")
    await engine.answer(intr.data["id"], "no, stop")
    await asyncio.wait_for(engine.wait(), 15)
    reason = w.find("agent_status", "a", status="failed")[0].data["reason"]
    assert reason == ("the API refused the request (400 invalid_request_error): "
                      "messages.1: tool_use ids must be unique")
    await store.close()


async def test_a_spending_limit_is_not_retried_and_says_so(api, tmp_path):
    api.push("a", spend_limit())
    team = make_team(tmp_path, [claude_agent("a", max_retries=3)])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="debug_request")
    assert "spending limit" in intr.data["prompt"]
    assert len(api.requests) == 1
    await engine.answer(intr.data["id"], "stop")
    await asyncio.wait_for(engine.wait(), 15)
    assert "spending limit (429)" in w.find("agent_status", "a", status="failed")[0].data["reason"]
    await store.close()


async def test_a_stream_that_breaks_midway_is_retried(api, tmp_path):
    api.push("a", Turn([text("Half a thought"), tool("report_progress", text="x")],
                       break_with="overloaded_error"),
             Turn([tool("finish", summary="whole")]))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await run_to_end(team, tmp_path)
    assert engine.agents["a"].summary == "whole"
    assert "reply stream broke (overloaded_error); retrying (1/3)" in \
        w.find("notice", "a")[0].data["text"]
    # the half-streamed text was closed for the viewers
    assert w.find("assistant_text", "a", final=True)
    await store.close()


async def test_a_missing_key_fails_the_start_naming_the_variable(api, tmp_path, monkeypatch):
    monkeypatch.delenv("TEAM_KEY", raising=False)
    team = make_team(tmp_path, [claude_agent("coder", sandbox_path="ws"), {"id": "helper"},
                                claude_agent("reviewer")],
                     anthropic={"api_key_env": "TEAM_KEY"})
    with pytest.raises(BrainError) as info:
        await start(team, tmp_path)
    assert str(info.value) == (
        "TEAM_KEY is not set, and the Claude agents (coder, reviewer) need it: export "
        "TEAM_KEY=<your Anthropic API key>, or run the offline demo team with --demo")
    assert not (tmp_path / "ws").exists()  # no sandbox was started
    assert api.requests == []


async def test_a_scripted_team_needs_no_key(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    team = make_team(tmp_path, [{"id": "a"}])
    engine, w, store = await run_to_end(team, tmp_path)
    assert engine.status == "finished"
    await store.close()
