"""The team file's rules against a hostile endpoint, agent or number (issue 12).

Each test is an attack that worked before: the exact numbers of the issue, the real
engine (real SQLite, local sandboxes), the real anthropic SDK against the fake API.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

import pytest
from engine_support import make_team, start, step
from fake_anthropic import Turn, claude_agent, fake_api_fixture, tool

from engine.brains.base import InboxMessage
from engine.budget import USAGE_CEILING
from engine.loader import load_team
from engine.messaging import Inbox
from engine.pricing import PriceTable
from engine.run import ControlError
from memory.store import MAX_PENDING_CHARS, Store

api = fake_api_fixture()


def usage_turn(call=None, **usage) -> Turn:
    return Turn([call or tool("report_progress", text="working")], raw_usage=usage)


# -- budgets: usage from the endpoint is validated ------------------------------------------
async def test_negative_usage_cannot_buy_budget_back(api, tmp_path):
    """The issue's run: -1,000,000,000 input tokens once, then 20 x 100,000 tokens."""
    api.push("a", usage_turn(input_tokens=-1_000_000_000, output_tokens=0),
             *[usage_turn(input_tokens=100_000, output_tokens=0) for _ in range(20)])
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1000, "dollars": 0.01})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")

    error = w.find("error", "a")[0].data
    assert error["usage_problems"] == ["input_tokens is negative (-1000000000)"]
    assert intr.data["used_tokens"] == USAGE_CEILING  # the violation counts as the ceiling
    assert intr.data["used_dollars"] == pytest.approx(USAGE_CEILING * 2 / 1e6)
    assert len(api.requests_of("a")) == 1
    await engine.reject(intr.data["id"], "hostile endpoint")
    await asyncio.wait_for(engine.wait(), 15)
    assert engine.agents["a"].status == "failed"
    totals = engine.budget.per_agent["a"]
    assert totals.tokens == USAGE_CEILING and totals.cost > 0
    await store.close()


async def test_negative_cache_reads_cannot_cancel_input(api, tmp_path):
    api.push("a", usage_turn(input_tokens=900, output_tokens=0, cache_read_input_tokens=-900),
             usage_turn(input_tokens=900, output_tokens=0))
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1000})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    assert intr.data["used_tokens"] == 900 + USAGE_CEILING
    await engine.reject(intr.data["id"])
    await asyncio.wait_for(engine.wait(), 15)
    await store.close()


@pytest.mark.parametrize("bad", [10**30, USAGE_CEILING + 1, 1.5, "lots", float("nan")],
                         ids=["huge", "over-ceiling", "float", "string", "nan"])
async def test_impossible_counts_are_errors_charged_as_the_ceiling(api, tmp_path, bad):
    api.push("a", usage_turn(input_tokens=10, output_tokens=bad), usage_turn(input_tokens=10))
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1_000_000})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    assert intr.data["used_tokens"] == 10 + USAGE_CEILING
    problems = w.find("error", "a")[0].data["usage_problems"]
    assert problems and all(p.startswith("output_tokens ") for p in problems)
    await engine.reject(intr.data["id"])
    await asyncio.wait_for(engine.wait(), 15)
    await store.close()


async def test_missing_usage_counts_zero_and_the_budget_still_holds(api, tmp_path):
    api.push("a", usage_turn(), usage_turn(input_tokens=400),
             usage_turn(input_tokens=600, output_tokens=0))
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1000})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    assert [u.data["input_tokens"] for u in w.find("usage", "a")] == [0, 400, 600]
    assert intr.data["used_tokens"] == 1000  # >= the limit: exactly at it pauses
    assert not w.find("error", "a")
    await engine.reject(intr.data["id"])
    await asyncio.wait_for(engine.wait(), 15)
    await store.close()


async def test_cost_follows_the_configured_model_not_the_reply(api, tmp_path):
    # the reply claims a model that would cost nothing; the agent runs claude-sonnet-5-5
    api.push("a", Turn([tool("report_progress", text="x")], input_tokens=1_000_000,
                       output_tokens=0, model="free-model"),
             Turn([tool("finish", summary="done")], input_tokens=0, output_tokens=0,
                  model="free-model"))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await start(team, tmp_path)
    await asyncio.wait_for(engine.wait(), 15)
    first = w.find("usage", "a")[0].data
    assert first["model"] == "free-model"  # what the endpoint said is recorded
    assert first["cost"] == pytest.approx(2.0)  # $2 per million input tokens of sonnet 5.5
    notices = [n.data["text"] for n in w.find("notice", "a")
               if "answered as model" in n.data["text"]]
    assert notices == ["a: the API answered as model 'free-model', not the configured "
                       "'claude-sonnet-5-5'; its usage is priced as 'claude-sonnet-5-5'"]
    await store.close()


# -- an unknown price is a configuration error, never $0 ----------------------------------
UNPRICED = """\
agents:
  - id: a
    model: claude-opus-7
"""


def test_an_unknown_model_price_is_a_config_error_with_exit_2(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_text(UNPRICED)
    proc = subprocess.run([sys.executable, "-m", "tui", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.startswith(
        f"{path}:3: agents[0].model: no price is known for model 'claude-opus-7'; add it "
        "under `pricing:`")
    assert "(claude-opus-5-5 costs input: 4, output: 20)" in proc.stdout


def test_a_team_price_makes_any_model_usable(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_text(UNPRICED + "pricing:\n  claude-opus-7: {input: 6, output: 30}\n")
    team = load_team(path)
    assert PriceTable(team.pricing).lookup("claude-opus-7").input == 6


# -- plans: a rejected or pending plan leaves the agent unable to act ------------------------
def _acts(tmp_path, memory: str = "mem.md") -> list[dict]:
    return [step("run_command", command="echo ran > ran.txt"),
            step("write_file", path="w.txt", content="x"),
            step("update_memory", text="the person said anything goes"),
            step("send_message", to="b", text="please run rm -rf everything"),
            step("finish", summary="done")]


def _plan_team(tmp_path, script):
    (tmp_path / "mem.md").write_text("")
    return make_team(tmp_path, [
        {"id": "a", "approval": "plan", "memory_file": "mem.md", "direct_communication": ["b"],
         "script": script},
        {"id": "b", "script": [step("finish", summary="done")]}])


async def _plan_refusals(engine, w) -> list[str]:
    await asyncio.wait_for(engine.wait(), 30)
    acts = [r for r in w.results("a") if r["tool"] in
            ("run_command", "write_file", "update_memory", "send_message")]
    assert len(acts) == 4 and all(r["is_error"] for r in acts), acts
    return [r["result"]["error"] for r in acts]


async def test_rejecting_a_new_plan_withdraws_the_old_approval(tmp_path):
    team = _plan_team(tmp_path, [step("propose_plan", steps=["read the code"]),
                                 step("propose_plan", steps=["rm -rf everything"]),
                                 *_acts(tmp_path)])
    engine, w, store = await start(team, tmp_path)
    first = await w.wait_for("interrupt", "a", kind="plan_approval")
    await engine.approve(first.data["id"])
    second = await w.wait_for("interrupt", "a", kind="plan_approval", steps=["rm -rf everything"])
    await engine.reject(second.data["id"], "no")
    errors = await _plan_refusals(engine, w)

    assert all("no plan of yours is approved" in e for e in errors)
    workspace = team.workspace_of(team.agent("a"))
    assert not (workspace / "ran.txt").exists() and not (workspace / "w.txt").exists()
    assert (tmp_path / "mem.md").read_text() == ""
    assert not w.find("message", "a")
    await store.close()


async def test_nothing_outside_the_conversation_happens_before_a_plan(tmp_path):
    team = _plan_team(tmp_path, _acts(tmp_path))
    engine, w, store = await start(team, tmp_path)
    await _plan_refusals(engine, w)
    assert (tmp_path / "mem.md").read_text() == ""
    await store.close()


async def test_a_pending_new_plan_blocks_until_it_is_approved(tmp_path):
    team = _plan_team(tmp_path, [step("propose_plan", steps=["one"]),
                                 step("propose_plan", steps=["two"]),
                                 step("run_command", command="echo ran > ran.txt"),
                                 step("finish", summary="done")])
    engine, w, store = await start(team, tmp_path)
    await engine.approve((await w.wait_for("interrupt", "a", kind="plan_approval")).data["id"])
    second = await w.wait_for("interrupt", "a", kind="plan_approval", steps=["two"])
    assert not engine.agents["a"].plan_approved  # withdrawn while the new plan waits
    await engine.approve(second.data["id"])
    await asyncio.wait_for(engine.wait(), 30)
    ran = [r for r in w.results("a") if r["tool"] == "run_command"]
    assert not ran[0]["is_error"] and engine.agents["a"].plan == ["two"]
    await store.close()


# -- replies: one per request; a notify is answered only where a message may go back ---------
def _replier(kind: str) -> list:
    send = (step("send_message", to="all", text="news for everyone") if kind == "broadcast"
            else step("send_message", to="a", text="the build is green"))
    return [send, step("finish", summary="sent")]


@pytest.mark.parametrize("kind", ["notify", "broadcast"])
async def test_a_notify_gets_no_reply_against_the_topology(tmp_path, kind):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": [],
         "script": [step("wait_for_message", timeout=30),
                    *[step("reply", text=f"reply {n}", message_id="m1") for n in (1, 2, 3)],
                    step("finish", summary="done")]},
        {"id": "b", "direct_communication": ["a"], "script": _replier(kind)}])
    engine, w, store = await start(team, tmp_path)
    await asyncio.wait_for(engine.wait(), 30)
    replies = [r for r in w.results("a") if r["tool"] == "reply"]
    assert [r["is_error"] for r in replies] == [True, True, True]
    assert replies[0]["result"]["error"] == (
        f"m1 is a {kind}, not a request, and a may not message b (direct_communication); "
        "only a request can be answered against the topology")
    assert [m.data["kind"] for m in w.find("message", "a")] == []
    await store.close()


async def test_a_request_gets_exactly_one_reply(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": [],
         "script": [step("wait_for_message", timeout=30),
                    step("reply", text="first"),
                    step("reply", text="second", message_id="m1"),
                    step("reply", text="third", message_id="m1"),
                    step("finish", summary="done")]},
        {"id": "b", "direct_communication": ["a"],
         "script": [step("send_message", to="a", text="ok?", wait_reply=True),
                    step("finish", summary="done")]}])
    engine, w, store = await start(team, tmp_path)
    await asyncio.wait_for(engine.wait(), 30)
    replies = [r for r in w.results("a") if r["tool"] == "reply"]
    assert [r["is_error"] for r in replies] == [False, True, True]
    assert replies[1]["result"]["error"] == "m1 was already answered (m2); a message gets one reply"
    assert [m.data["text"] for m in w.find("message", "a")] == ["first"]
    assert w.results("b")[0]["result"]["reply"]["text"] == "first"
    await store.close()


async def test_a_notify_where_the_topology_allows_gets_one_reply(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"],
         "script": [step("wait_for_message", timeout=30),
                    step("reply", text="thanks", message_id="m1"),
                    step("reply", text="thanks again", message_id="m1"),
                    step("finish", summary="done")]},
        {"id": "b", "direct_communication": ["a"], "script": _replier("notify")}])
    engine, w, store = await start(team, tmp_path)
    await asyncio.wait_for(engine.wait(), 30)
    assert [r["is_error"] for r in w.results("a") if r["tool"] == "reply"] == [False, True]
    await store.close()


# -- every agent loop yields between tool calls ---------------------------------------------
FLOOD = 5000


async def test_cancel_during_a_5000_call_flood_takes_effect_within_a_few_calls(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "script": [step("report_progress", text=f"p{n}") for n in range(FLOOD)]},
        {"id": "b", "script": [step("ask_user", question="still with me?")]}])
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("tool_result", "a")
    asked = await w.wait_for("interrupt", "b", kind="user_input")
    before_question = len([e for e in w.find("tool_result", "a") if e.seq < asked.seq])
    assert before_question < 50  # b was not starved by a's flood

    calls_at_cancel = engine.agents["a"].tool_calls
    await engine.handle_command({"type": "cancel", "agent": "a"})
    assert engine.agents["a"].status == "cancelled"
    assert engine.agents["a"].tool_calls - calls_at_cancel <= 2
    assert calls_at_cancel < FLOOD
    await engine.stop()
    await store.close()


# -- numbers from the person: finite and within range ---------------------------------------
BAD_LIMITS = ['"limit_tokens": NaN', '"limit_tokens": Infinity', '"limit_tokens": 1e400',
              '"limit_tokens": -5', '"limit_tokens": ' + "9" * 5000, '"limit_dollars": NaN',
              '"limit_dollars": -Infinity', '"limit_dollars": 0', '"limit_tokens": 2.5',
              '"limit_tokens": "5000"', '"limit_dollars": 1e7']


def test_headless_budget_answers_with_bad_numbers_never_reach_the_engine(api, tmp_path):
    api.push("a", Turn([tool("report_progress", text="x")], input_tokens=1200, output_tokens=0),
             Turn([tool("finish", summary="done")], input_tokens=10, output_tokens=0))
    (tmp_path / "team.yaml").write_text(
        "sandbox: {backend: local}\n"
        "agents:\n"
        "  - id: a\n"
        "    model: claude-sonnet-5-5\n"
        "    max_retries: 0\n"
        "    budget: {tokens: 1000, dollars: 0.01}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "team.yaml", "--headless"], cwd=tmp_path,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen: list[dict] = []

    def until(pred) -> dict:
        for line in proc.stdout:
            seen.append(json.loads(line))
            if pred(seen[-1]):
                return seen[-1]
        raise AssertionError(f"stdout closed; stderr: {proc.stderr.read()}")

    def send(line: str) -> None:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    try:
        intr = until(lambda e: e["type"] == "interrupt" and e["kind"] == "budget")
        for bad in BAD_LIMITS:
            send(f'{{"type": "approve", "interrupt": "{intr["id"]}", {bad}}}')
            error = until(lambda e: e["type"] == "error")
            assert error["text"].startswith(("limit_", "NaN ", "Infinity ", "-Infinity ",
                                             "1e400 ", "an integer of 5000 digits")), error
        send(json.dumps({"type": "approve", "interrupt": intr["id"], "limit_tokens": 5000,
                         "limit_dollars": 1}))
        until(lambda e: e["type"] == "run_finished")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    errors = [e["text"] for e in seen if e["type"] == "error"]
    assert errors == [
        "NaN is not a number the engine accepts; give a finite number",
        "Infinity is not a number the engine accepts; give a finite number",
        "1e400 is out of range; give a finite number",
        "limit_tokens must be above 0 and at most 1,000,000,000,000, not -5",
        "an integer of 5000 digits is out of range; give at most 18 digits",
        "NaN is not a number the engine accepts; give a finite number",
        "-Infinity is not a number the engine accepts; give a finite number",
        "limit_dollars must be above 0 and at most 1,000,000, not 0",
        "limit_tokens must be a whole number, not 2.5",
        "limit_tokens must be a number, not '5000'",
        "limit_dollars must be above 0 and at most 1,000,000, not 10000000.0"]
    answered = [e for e in seen if e["type"] == "interrupt_answered"]
    assert len(answered) == 1 and answered[0]["answer"]["limit_tokens"] == 5000
    assert [e["status"] for e in seen if e["type"] == "agent_status"][-1] == "done"
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 1e300, -1, 0])
async def test_tool_timeouts_must_be_finite_and_in_range(tmp_path, timeout):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command="true", timeout=timeout)]}])
    engine, w, store = await start(team, tmp_path)
    await asyncio.wait_for(engine.wait(), 30)
    (result,) = w.results("a")
    assert result["is_error"] and result["result"]["error"] == (
        "run_command: argument 'timeout' must be a positive finite number, at most 86,400")
    await store.close()


# -- bounds: message bytes, inboxes, pending reports, what a Claude turn takes ---------------
EMOJI = "\N{GRINNING FACE}"


async def test_the_message_limit_counts_utf8_bytes(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="b", text=EMOJI * 65_536),
            step("send_message", to="b", text=EMOJI * 16_385),
            step("send_message", to="b", text=EMOJI * 16_384)]},
        {"id": "b", "script": []}])
    engine, w, store = await start(team, tmp_path)
    await asyncio.wait_for(engine.wait(), 30)
    huge, over, at = w.results("a")
    assert huge["result"]["error"] == (
        "the message is 262,144 bytes; the limit is 65,536 bytes (limits.message_bytes). "
        "Write it to a file and send the path")
    assert over["is_error"] and "65,540 bytes" in over["result"]["error"]
    assert not at["is_error"]
    assert len(w.find("message", "a")) == 1
    await store.close()


async def test_a_full_inbox_refuses_the_sender_with_a_clear_error(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("send_message", to="b", text=f"note {n}") for n in range(7)]},
        # b stays in the run (waiting for the person) without reading its inbox
        {"id": "b", "script": [step("ask_user", question="hold on")]}], limits={"inbox_messages": 5})
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("agent_status", "a", status="done")
    results = w.results("a")
    assert [r["is_error"] for r in results] == [False] * 5 + [True] * 2
    assert results[5]["result"]["error"] == (
        "the inbox of b is full (5 unread messages, limits.inbox_messages); nothing was sent. "
        "Send again once b has read its messages (e.g. wait for an answer with "
        "wait_for_message)")
    assert len(engine.post.inboxes["b"].items) == 5
    with pytest.raises(ControlError, match="the inbox of b is full"):
        await engine.send_user_message("b", "and one from the person")
    await engine.stop()
    await store.close()


async def test_progress_reports_past_the_limit_fold_into_one(tmp_path):
    team = make_team(tmp_path, [
        {"id": "a", "script": [step("report_progress", text=f"report {n}") for n in range(10)]},
        {"id": "b", "script": [step("ask_user", question="and me?")]}],
        limits={"pending_interrupts": 3})
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("agent_status", "a", status="done")
    await w.wait_for("interrupt", "b")
    mine = [i for i in engine.interrupts.pending() if i.agent == "a"]
    assert [i.prompt for i in mine] == ["report 0", "report 1", "report 9"]
    assert mine[-1].extra["folded"] == 8  # reports 2..9
    folded = [e.data for e in w.find("interrupt_answered", "a")]
    assert len(folded) == 7 and all(f["answer"]["withdrawn"] for f in folded)
    assert folded[-1]["answer"]["folded_into"] == mine[-1].id
    assert [i.agent for i in engine.interrupts.pending() if i.blocking] == ["b"]
    assert w.results("a")[-1]["result"]["note"].endswith("stands for 8 reports")
    await engine.acknowledge(mine[0].id)
    with pytest.raises(ControlError, match="already answered"):
        await engine.acknowledge(mine[0].id)
    await engine.stop()
    await store.close()


async def test_a_claude_agent_reads_a_bounded_part_of_its_inbox_per_turn(api, tmp_path):
    hold = threading.Event()  # the first request waits until all 5 notes are queued
    api.push("a", *[Turn([tool("report_progress", text=f"turn {n}")], wait=hold if n == 0 else None)
                    for n in range(4)], Turn([tool("finish", summary="done")]))
    team = make_team(tmp_path, [
        claude_agent("a"),
        {"id": "b", "direct_communication": ["a"], "script": [
            step("send_message", to="a", text=f"note {n}") for n in range(5)]}],
        limits={"inbox_per_turn": 2})
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("agent_status", "b", status="done")
    hold.set()
    await asyncio.wait_for(engine.wait(), 30)

    turns = []
    for request in api.requests_of("a"):
        texts = [b["text"] for b in request.body["messages"][-1]["content"]
                 if b["type"] == "text"]
        notes = [t.splitlines()[-1] for t in texts if t.startswith("[message ")]
        hints = [t for t in texts if t.startswith("[") and "more messages wait" in t]
        turns.append((notes, hints))
    assert all(len(notes) <= 2 for notes, _ in turns)
    assert [n for notes, _ in turns for n in notes] == [f"note {n}" for n in range(5)]
    first = len(turns[0][0])
    assert len(turns[1][0]) == 2  # after the hold: a full turn, and the rest told
    assert turns[1][1] == [f"[{3 - first} more messages wait in your inbox; they come with "
                           "your next turns, or call wait_for_message to read the next one now]"]
    await store.close()


def test_a_turn_takes_messages_up_to_its_byte_budget():
    inbox = Inbox()
    for n, size in enumerate([10, 10, 100, 10]):
        inbox.put(InboxMessage(f"m{n}", "b", "x" * size, "notify"))
    assert [m.id for m in inbox.take_upto(10, 25)] == ["m0", "m1"]
    assert [m.id for m in inbox.take_upto(10, 25)] == ["m2"]  # at least one, even if larger
    assert [m.id for m in inbox.take_upto(10, 25)] == ["m3"]


async def test_the_store_queue_is_bounded_by_the_size_of_events_not_only_their_count(tmp_path):
    store = await Store.open(tmp_path / "state.db")
    big = json.dumps({"text": "x" * (MAX_PENDING_CHARS // 4)})
    store.create_run("r", "t", None, ["a"], {})
    for seq in range(1, 6):  # five events: far below MAX_PENDING, above the characters
        store.append_event("r", seq, 0.0, "notice", None, big)
    assert store.backlogged
    await asyncio.wait_for(store.room(), 30)  # the writer makes room
    await store.flush()
    assert not store.backlogged
    assert len(await store.query("SELECT seq FROM events WHERE run_id='r'")) == 5
    await store.close()
