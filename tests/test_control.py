"""Interrupts, plans, command approval, pause/resume/cancel and stop through the engine API."""

from __future__ import annotations

import asyncio

import pytest
from engine_support import make_team, start, step

from engine.run import ControlError


async def test_ask_user_returns_the_answer_and_is_answered_exactly_once(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("ask_user", question="Colour?", options=["red", "blue"])]}])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="user_input")
    assert intr.data["options"] == ["red", "blue"] and intr.data["blocking"] is True
    assert engine.agents["a"].status == "waiting_user"
    await engine.answer(intr.data["id"], "blue")
    with pytest.raises(ControlError, match="already answered"):
        await engine.answer(intr.data["id"], "red")
    await engine.wait()
    assert w.results("a")[0]["result"] == {"answer": "blue"}
    assert len(w.find("interrupt_answered")) == 1
    row = (await store.query("SELECT answer FROM interrupts WHERE id=?", (intr.data["id"],)))[0]
    assert '"blue"' in row[0]
    with pytest.raises(ControlError, match="no interrupt 'i99'"):
        await engine.answer("i99", "x")
    await store.close()


async def test_wrong_kind_of_answer_is_refused(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "approval": "plan", "script": [
        step("propose_plan", steps=["do it"])]}])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="plan_approval")
    with pytest.raises(ControlError, match="approve or reject"):
        await engine.answer(intr.data["id"], "sure")
    await engine.approve(intr.data["id"])
    await engine.wait()
    await store.close()


async def test_plan_gate_rejection_feedback_and_approval_with_edits(tmp_path):
    team = make_team(tmp_path, [{"id": "c", "approval": "plan", "sandbox_path": "ws", "script": [
        step("write_file", path="early.txt", content="too soon"),
        step("propose_plan", steps=["write a.txt"]),
        step("propose_plan", steps=["write a.txt", "test it"]),
        step("write_file", path="a.txt", content="ok"),
    ]}])
    engine, w, store = await start(team, tmp_path)
    first = await w.wait_for("interrupt", "c", kind="plan_approval")
    assert engine.agents["c"].status == "awaiting_approval"
    await engine.reject(first.data["id"], "add a test step")
    second = await w.wait_for("interrupt", "c", kind="plan_approval", id="i2")
    assert second.data["steps"] == ["write a.txt", "test it"]
    await engine.approve(second.data["id"], steps=["write a.txt", "test it", "celebrate"])
    await engine.wait()
    early, rejected, approved, wrote = w.results("c")
    assert "call propose_plan first" in early["result"]["error"]
    assert rejected["result"] == {"approved": False, "feedback": "add a test step"}
    assert approved["result"]["steps"] == ["write a.txt", "test it", "celebrate"]
    assert not wrote["is_error"] and (tmp_path / "ws" / "a.txt").exists()
    assert not (tmp_path / "ws" / "early.txt").exists()
    await store.close()


async def test_risky_command_needs_approval_and_rejection_gives_the_reason(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "approval": "risky", "sandbox_path": "ws", "script": [
        step("run_command", command="echo safe"),
        step("run_command", command="touch f && rm -rf f"),
        step("run_command", command="curl http://example.com"),
    ]}])
    engine, w, store = await start(team, tmp_path)
    rm = await w.wait_for("interrupt", "a", kind="command_approval")
    assert rm.data["command"] == "touch f && rm -rf f"
    assert rm.data["reason"] == "`touch` is not on the safe list; `rm` is not on the safe list"
    await engine.approve(rm.data["id"])
    curl = await w.wait_for("interrupt", "a", kind="command_approval", id="i2")
    assert curl.data["reason"] == "`curl` is not on the safe list"
    await engine.reject(curl.data["id"], "no network here")
    await engine.wait()
    safe, rm_res, curl_res = w.results("a")
    assert safe["result"]["exit_code"] == 0 and rm_res["result"]["exit_code"] == 0
    assert curl_res["result"]["error"] == "the person rejected this command: no network here"
    assert len(w.find("interrupt")) == 2  # `echo safe` did not ask
    await store.close()


async def test_approval_always_and_auto_approve(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "approval": "always", "script": [
        step("run_command", command="echo 1")]}])
    engine, w, store = await start(team, tmp_path, auto_approve=True)
    await engine.wait()
    (answered,) = w.find("interrupt_answered")
    assert answered.data["answer"]["by"] == "auto-approve"
    assert w.results("a")[0]["result"]["output"] == "1\n"
    await store.close()


async def test_debug_request_and_progress_report(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("report_progress", text="half way"),
        step("request_debug", text="stuck on X"),
        step("request_debug", text="quick one", timeout=0.2),
    ]}])
    engine, w, store = await start(team, tmp_path)
    dbg = await w.wait_for("interrupt", "a", kind="debug_request")
    prog = w.find("interrupt", "a", kind="progress_report")[0]
    assert prog.data["blocking"] is False and prog.data["prompt"] == "half way"
    await engine.answer(dbg.data["id"], "try Y")
    await engine.wait()
    _, answered, expired = w.results("a")
    assert answered["result"] == {"answer": "try Y", "expired": False}
    assert expired["result"]["expired"] is True
    # a progress report stays in the queue until acknowledged, once
    pending = [i.id for i in engine.interrupts.pending()]
    assert pending == [prog.data["id"]]
    await engine.acknowledge(prog.data["id"])
    with pytest.raises(ControlError):
        await engine.acknowledge(prog.data["id"])
    await store.close()


async def test_pause_takes_effect_between_tool_calls_and_resume_continues(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command="sleep 0.4"), step("run_command", command="echo after")]}])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("tool_call", "a", tool="run_command")
    await engine.pause("a")
    assert engine.agents["a"].status == "paused"
    await w.wait_for("tool_result", "a")
    await asyncio.sleep(0.3)
    assert len(w.find("tool_call", "a")) == 1, "a paused agent started its next call"
    await engine.resume("a")
    with pytest.raises(ControlError, match="not paused"):
        await engine.resume("a")
    await engine.wait()
    assert w.results("a")[1]["result"]["output"] == "after\n"
    assert engine.agents["a"].status == "done"
    await store.close()


async def test_cancel_stops_the_running_command(tmp_path):
    marker = tmp_path / "ws" / "survived"
    team = make_team(tmp_path, [
        {"id": "a", "sandbox_path": "ws", "script": [
            step("run_command", command="sleep 1; touch survived"),
            step("finish", summary="never")]},
        {"id": "b", "script": [step("run_command", command="sleep 0.2")]},
    ])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("console", "a", kind="command")
    await engine.cancel("a")
    assert engine.agents["a"].status == "cancelled"
    await engine.wait()
    await asyncio.sleep(1.2)
    assert not marker.exists(), "the cancelled command kept running"
    assert engine.agents["b"].status == "done"
    assert engine.status == "cancelled"
    with pytest.raises(ControlError, match="a was cancelled"):
        await engine.cancel("a")
    await store.close()


async def test_cancel_withdraws_pending_interrupts(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("ask_user", question="?")]}])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a")
    await engine.cancel("a")
    assert engine.interrupts.pending() == []
    with pytest.raises(ControlError, match="already answered"):
        await engine.answer(intr.data["id"], "late")
    await engine.wait()
    await store.close()


async def test_stop_ends_the_run_cleanly_and_records_it(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("run_command", command="sleep 30")]}])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("console", "a", kind="command")
    await asyncio.wait_for(engine.stop(), 5)
    assert engine.status == "stopped"
    (run,) = await store.runs()
    assert run["status"] == "stopped" and run["finished"] is not None
    finished = w.find("run_finished")[0]
    assert finished.data["agents"] == {"a": "cancelled"}
    await store.close()


async def test_headless_commands_validate_their_fields(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("ask_user", question="?")]}])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("interrupt", "a")
    for cmd, msg in [({"type": "answer"}, "needs a string field 'interrupt'"),
                     ({"type": "warp"}, "unknown command type 'warp'"),
                     ([1, 2], "JSON object"),
                     ({"type": "pause", "agent": "ghost"}, "unknown agent 'ghost'")]:
        with pytest.raises(ControlError, match=msg):
            await engine.handle_command(cmd)
    await engine.handle_command({"type": "answer", "interrupt": "i1", "text": "x"})
    await engine.wait()
    await store.close()


async def test_plan_and_risky_together(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "approval": ["plan", "risky"], "script": [
        step("run_command", command="echo too early"),
        step("propose_plan", steps=["clean up"]),
        step("run_command", command="echo safe"),
        step("run_command", command="rm -rf build"),
    ]}])
    engine, w, store = await start(team, tmp_path)
    plan = await w.wait_for("interrupt", "a", kind="plan_approval")
    await engine.approve(plan.data["id"])
    cmd = await w.wait_for("interrupt", "a", kind="command_approval")
    assert cmd.data["command"] == "rm -rf build"
    await engine.reject(cmd.data["id"], "keep the build")
    await engine.wait()
    early, _, safe, rm = w.results("a")
    assert "call propose_plan first" in early["result"]["error"]
    assert safe["result"]["output"] == "safe\n"
    assert rm["result"]["error"] == "the person rejected this command: keep the build"
    await store.close()
