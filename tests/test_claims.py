"""Work claims on a real engine (real SQLite, local sandboxes, a manual clock): refused while
another agent holds the key, free again once its time is up, kept across a restart."""

from __future__ import annotations

from engine_support import Watcher, make_team, step
from test_schedule import settle

from engine import events as ev
from engine.resume import load_run_state
from engine.run import Engine
from engine.schedules.clock import ManualClock
from memory.store import Store

AGENTS = [
    {"id": "a", "script": [step("claim", key="issue-1", ttl=60), step("claim", key="issue-1"),
                           step("finish", summary="a")]},
    {"id": "b", "script": [step("wait_for_message"), step("claim", key="issue-1"),
                           step("wait_for_message"), step("claim", key="issue-1", ttl=30),
                           step("finish", summary="b")]},
]


def claim_results(w: Watcher, agent: str) -> list[dict]:
    return [r["result"] for r in w.results(agent) if r["tool"] == "claim"]


async def begin(tmp_path, clock, run_id=None):
    team = make_team(tmp_path, AGENTS)
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, clock=clock, run_id=run_id)
    if run_id:
        engine.pending_resume = await load_run_state(store, run_id)
    w = Watcher(engine)
    await engine.start()
    return engine, w


async def test_a_claim_is_refused_with_its_holder_then_expires_on_its_own(tmp_path):
    clock = ManualClock(1_000_000_000)
    engine, w = await begin(tmp_path, clock)
    await settle(engine, lambda: len(claim_results(w, "a")) == 2)
    first, again = claim_results(w, "a")
    assert first == {"claimed": True, "key": "issue-1", "holder": "a", "expires_in": 60,
                     "renewed": False}
    assert again["claimed"] is True and again["renewed"] is True  # its own claim, renewed
    clock.advance(100)  # a's renewal counted 900 s from its own second claim
    await engine.send_user_message("b", "go")
    await settle(engine, lambda: len(claim_results(w, "b")) == 1)
    [refused] = claim_results(w, "b")
    assert refused["claimed"] is False and refused["holder"] == "a"
    assert refused["expires_in"] == 800
    assert refused["refused"] == ("'issue-1' is claimed by a for 13m 20s more; pick other work, "
                                  "or claim it again after that")
    clock.advance(800)  # the claim's time is up
    await engine.send_user_message("b", "again")
    await settle(engine, lambda: len(claim_results(w, "b")) == 2)
    assert claim_results(w, "b")[1]["claimed"] is True
    actions = [(e.agent, e.data["action"]) for e in w.find(ev.CLAIM)]
    assert actions == [("a", "taken"), ("a", "renewed"), ("b", "refused"), ("b", "taken")]
    await engine.wait()


async def test_claims_survive_a_restart(tmp_path):
    clock = ManualClock(1_000_000_000)
    engine, w = await begin(tmp_path, clock)
    await settle(engine, lambda: len(claim_results(w, "a")) == 2)
    await settle(engine, lambda: engine.agents["b"].status == ev.WAITING_MESSAGE)
    await engine.stop()
    await engine.store.close()
    engine, w = await begin(tmp_path, clock, run_id=engine.run_id)
    await engine.send_user_message("b", "go")
    await settle(engine, lambda: len(claim_results(w, "b")) == 1)
    assert claim_results(w, "b")[0]["holder"] == "a"  # known from the recorded claim events
    await engine.stop()


async def test_an_empty_key_is_a_tool_error(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("claim", key="  ")]}])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    w = Watcher(engine)
    await engine.start()
    await engine.wait()
    [result] = w.results("a")
    assert result["is_error"] and "the claim key is empty" in result["result"]["error"]
