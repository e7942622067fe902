"""Topology, sync/async/broadcast delivery and replies between agents."""

from __future__ import annotations

import asyncio

import pytest
from engine_support import make_team, run_to_end, start, step

from engine.run import ControlError


async def test_sync_request_waits_for_the_reply(tmp_path):
    team = make_team(tmp_path, [
        {"id": "asker", "direct_communication": ["helper"], "script": [
            step("send_message", to="helper", text="2+2?", wait_reply=True)]},
        {"id": "helper", "script": [
            step("wait_for_message"), step("run_command", command="sleep 0.3"),
            step("reply", text="4")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    (res,) = w.results("asker")
    assert res["result"]["reply"]["text"] == "4"
    assert res["result"]["reply"]["from"] == "helper"
    assert res["result"]["reply"]["reply_to"] == res["result"]["id"]
    waiting = w.find("agent_status", "asker", status="waiting_reply")
    assert waiting and waiting[0].data["activity"] == "waiting for reply from helper"
    got = w.results("helper")[0]["result"]
    assert got["kind"] == "request" and got["from"] == "asker" and got["text"] == "2+2?"
    await store.close()


async def test_async_message_returns_at_once_and_lands_in_the_inbox(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="b", text="fyi")]},
        {"id": "b", "script": [step("run_command", command="sleep 0.3"),
                               step("wait_for_message", timeout=5)]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    sent = w.results("a")[0]["result"]
    assert sent["delivered_to"] == ["b"]
    got = w.results("b")[1]["result"]
    assert got == {"id": sent["id"], "from": "a", "text": "fyi", "kind": "notify",
                   "reply_to": None}
    await store.close()


async def test_broadcast_reaches_every_allowed_recipient_only(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b", "c"], "script": [
            step("send_message", to="all", text="hello team")]},
        {"id": "b", "script": [step("wait_for_message", timeout=5)]},
        {"id": "c", "script": [step("wait_for_message", timeout=5)]},
        {"id": "d", "script": [step("wait_for_message", timeout=0.5)]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    assert w.results("b")[0]["result"]["kind"] == "broadcast"
    assert w.results("c")[0]["result"]["text"] == "hello team"
    assert w.results("d")[0]["is_error"] and "no message arrived" in \
        w.results("d")[0]["result"]["error"]
    (msg,) = w.find("message")
    assert msg.data["recipients"] == ["b", "c"] and msg.data["to"] == "all"
    await store.close()


async def test_message_outside_topology_is_refused_naming_allowed(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="c", text="psst"),
            step("send_message", to="all", text="x", wait_reply=True)]},
        {"id": "b"}, {"id": "c", "script": [step("wait_for_message", timeout=0.3)]},
        {"id": "loner", "script": [step("send_message", to="all", text="anyone?")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    refused, bcast_wait = w.results("a")
    assert refused["is_error"]
    assert refused["result"]["error"] == ("a may not message c (direct_communication); "
                                          "allowed recipients: b")
    assert "not possible with a broadcast" in bcast_wait["result"]["error"]
    assert w.results("c")[0]["is_error"]  # nothing arrived
    assert "reaches nobody" in w.results("loner")[0]["result"]["error"]
    await store.close()


async def test_direct_communication_all_and_replies_always_allowed(tmp_path):
    team = make_team(tmp_path, [
        {"id": "boss", "direct_communication": "all", "script": [
            step("send_message", to="worker", text="status?", wait_reply=True)]},
        {"id": "worker", "direct_communication": [], "script": [
            step("wait_for_message"), step("reply", text="fine")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    assert w.results("boss")[0]["result"]["reply"]["text"] == "fine"
    await store.close()


async def test_reply_by_message_id_and_without_a_request(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="b", text="one"),
            step("wait_for_message", timeout=5)]},
        {"id": "b", "direct_communication": ["a"], "script": [  # a notify needs a way back
            step("reply", text="nothing to reply to"),
            step("wait_for_message", timeout=5),
            step("reply", text="re: one", message_id="m1"),
            step("reply", text="bad", message_id="m99")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    no_req, _, ok, bad = w.results("b")
    assert "no request to reply to" in no_req["result"]["error"]
    assert ok["result"]["reply_to"] == "m1"
    assert "no message 'm99'" in bad["result"]["error"]
    assert w.results("a")[1]["result"]["kind"] == "reply"
    await store.close()


async def test_sync_request_to_a_finished_agent_fails_fast(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("run_command", command="sleep 0.3"),
            step("send_message", to="b", text="still there?", wait_reply=True)]},
        {"id": "b", "script": [step("finish", summary="bye")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    res = w.results("a")[1]
    assert res["is_error"] and "b has finished and cannot reply" in res["result"]["error"]
    await store.close()


async def test_sync_request_times_out(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "reply_timeout": 0.3, "script": [
            step("send_message", to="b", text="hello?", wait_reply=True)]},
        {"id": "b", "script": [step("run_command", command="sleep 1")]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    res = w.results("a")[0]
    assert res["is_error"] and "no reply from b within 0.3s" in res["result"]["error"]
    await store.close()


async def test_user_message_arrives_as_from_user(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("wait_for_message", timeout=10)]}])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("agent_status", "a", status="waiting_message")
    await engine.send_user_message("a", "hi from the person")
    await engine.wait()
    got = w.results("a")[0]["result"]
    assert got["from"] == "user" and got["text"] == "hi from the person"
    with pytest.raises(ControlError, match="unknown agent 'zz'"):
        await engine.send_user_message("zz", "x")
    await store.close()


async def test_oversized_message_is_refused(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="b", text="x" * 70_000)]}, {"id": "b"}])
    engine, w, store = await run_to_end(team, tmp_path)
    assert "limit is" in w.results("a")[0]["result"]["error"]
    await store.close()


async def test_messages_are_stored_and_marked_delivered(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="b", text="first"), step("send_message", to="b", text="2nd")]},
        {"id": "b", "script": [step("run_command", command="sleep 0.2"),
                               step("wait_for_message", timeout=5)]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    rows = await store.query("SELECT id, body, state FROM messages ORDER BY id")
    assert [tuple(r) for r in rows] == [("m1", "first", "delivered"), ("m2", "2nd", "queued")]
    await store.close()


async def test_concurrent_agents_exchange_many_messages(tmp_path):
    n = 20
    agents = [{"id": f"w{i}", "direct_communication": ["hub"], "script": [
        step("send_message", to="hub", text=f"ping {i}", wait_reply=True)]} for i in range(n)]
    hub_script = []
    for _ in range(n):
        hub_script += [step("wait_for_message", timeout=10), step("reply", text="pong")]
    agents.append({"id": "hub", "script": hub_script})
    team = make_team(tmp_path, agents)
    engine, w, store = await run_to_end(team, tmp_path)
    for i in range(n):
        assert w.results(f"w{i}")[0]["result"]["reply"]["text"] == "pong"
    assert not any(r["is_error"] for r in w.results("hub"))
    await asyncio.sleep(0)
    await store.close()
