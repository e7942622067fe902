"""Token and dollar accounting, budget warnings and the budget pause (real engine, fake API)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from engine_support import make_team, run_to_end, start
from fake_anthropic import Turn, claude_agent, fake_api_fixture, tool

from engine.brains.base import Usage
from engine.config import ModelPrice
from engine.pricing import PriceTable, canonical_model
from engine.run import ControlError, Engine

api = fake_api_fixture()


def spend(tokens: int, call=None, **kw) -> Turn:
    """A reply that costs exactly ``tokens`` input tokens."""
    return Turn([call or tool("report_progress", text=f"spent {tokens}")],
                input_tokens=tokens, output_tokens=0, **kw)


def finish(tokens: int = 0, **kw) -> Turn:
    return spend(tokens, tool("finish", summary="done"), **kw)


# -- prices ------------------------------------------------------------------------------
def test_prices_of_current_models_with_cache_reads_and_writes():
    table = PriceTable()
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=2_000_000,
                  cache_write_tokens=400_000, model="claude-sonnet-5-5-20260915")
    # $2 in, $10 out, $0.10 cache read, $2.50 cache write per million
    assert table.cost(usage) == pytest.approx(2 + 1 + 0.2 + 1.0)
    opus = Usage(1_000_000, 1_000_000, 0, 0, "claude-opus-4-5-20251101")
    assert table.cost(opus) == pytest.approx(5 + 25)
    haiku_long = Usage(150_000, 0, 0, 0, "claude-haiku-5-5")  # past the 100k prompt tier
    assert table.cost(haiku_long) == pytest.approx(0.15 * 0.5)
    assert canonical_model("claude-opus-4-0") == "claude-opus-4"


def test_team_pricing_overrides_and_unknown_models():
    table = PriceTable({"claude-sonnet-5-5": ModelPrice(input=1, output=1),
                        "my-proxy-model": ModelPrice(input=10, output=0, cache_read=0)})
    assert table.cost(Usage(1_000_000, 0, 1_000_000, 0, "claude-sonnet-5-5")) == pytest.approx(1.1)
    assert table.cost(Usage(1_000_000, 0, 0, 0, "my-proxy-model")) == pytest.approx(10)
    assert table.lookup("claude-opus-7") is None  # no guess from the family
    with pytest.raises(ValueError, match="no price for model 'llama'"):
        table.cost(Usage(1_000_000, 0, 0, 0, "llama"))


# -- agent budgets ---------------------------------------------------------------------------
async def test_warnings_at_50_75_90_once_each_then_a_pause_at_100(api, tmp_path):
    api.push("a", spend(550), spend(200), spend(10), spend(150), spend(100), finish(10))
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1000})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")

    warnings = [(e.data["percent"], e.data["used"]) for e in w.find("budget_warning", "a")]
    assert warnings == [(50, 550), (75, 750), (90, 910)]
    assert w.find("budget_warning", "a")[0].data["scope"] == "agent"
    assert intr.data["scope"] == "agent" and intr.data["used_tokens"] == 1010
    assert intr.data["limit_tokens"] == 1000 and intr.data["suggested_tokens"] == 2000
    assert "a reached its budget: 1,010 tokens of 1,000 tokens" in intr.data["prompt"]
    assert engine.agents["a"].status == "paused"
    assert len(api.requests) == 5  # nothing more is asked of the model while paused
    await engine.approve(intr.data["id"], limit_tokens=5000)
    await asyncio.wait_for(engine.wait(), 15)

    assert engine.agents["a"].status == "done"
    assert len(w.find("budget_warning", "a")) == 3  # 1,020 of 5,000 is below 50 %
    assert engine.budget.agent_limits["a"].tokens == 5000
    await store.close()


async def test_rejecting_the_budget_stops_the_agent(api, tmp_path):
    api.push("a", spend(1200), finish())
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1000})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    await engine.reject(intr.data["id"], "too expensive")
    await asyncio.wait_for(engine.wait(), 15)

    status = w.find("agent_status", "a", status="failed")[0]
    assert status.data["reason"] == ("stopped at its budget (1,200 tokens of 1,000 tokens): "
                                     "you rejected raising it (too expensive)")
    assert len(api.requests) == 1
    await store.close()


async def test_approving_without_a_number_doubles_the_limit(api, tmp_path):
    api.push("a", spend(1000), spend(900), finish())
    team = make_team(tmp_path, [claude_agent("a", budget={"tokens": 1000})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    await engine.approve(intr.data["id"])
    await w.wait_for("budget_warning", "a", percent=90)  # 1,900 of 2,000
    await asyncio.wait_for(engine.wait(), 15)
    assert engine.budget.agent_limits["a"].tokens == 2000
    assert engine.agents["a"].status == "done"
    await store.close()


async def test_a_dollar_budget_pauses_on_cost(api, tmp_path):
    # claude-sonnet-5-5 input is $2 per million: 5,000 tokens cost exactly one cent
    api.push("a", spend(5000), finish(100))
    team = make_team(tmp_path, [claude_agent("a", budget={"dollars": 0.01})])
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    assert intr.data["used_dollars"] == pytest.approx(0.01)
    assert "$0.01 of $0.01" in intr.data["prompt"]
    with pytest.raises(ControlError, match="limit_dollars must be above 0 and at most 1,000,000, not -1"):
        await engine.handle_command({"type": "approve", "interrupt": intr.data["id"],
                                     "limit_dollars": -1})
    await engine.handle_command({"type": "approve", "interrupt": intr.data["id"],
                                 "limit_dollars": 1.5})
    await asyncio.wait_for(engine.wait(), 15)
    assert engine.budget.agent_limits["a"].dollars == 1.5
    usage = w.find("usage", "a")[-1].data
    assert usage["agent_cost"] == pytest.approx(0.0102)
    await store.close()


# -- the team budget ----------------------------------------------------------------------
async def test_the_team_budget_pauses_every_agent_on_one_interrupt(api, tmp_path):
    hold_a, hold_b = threading.Event(), threading.Event()
    api.push("a", spend(600), finish(100, wait=hold_a))
    api.push("b", spend(500, wait=hold_b), finish(10))
    team = make_team(tmp_path, [claude_agent("a"), claude_agent("b")], budget={"tokens": 1000})
    engine, w, store = await start(team, tmp_path)
    await w.wait_for("budget_warning", None, scope="team", percent=50)
    hold_b.set()
    intr = await w.wait_for("interrupt", "b", kind="budget")
    assert intr.data["scope"] == "team" and "the team reached its budget: 1,100 tokens" in intr.data["prompt"]
    hold_a.set()
    await w.wait_for("agent_status", "a", status="paused")
    assert len(w.find("interrupt", kind="budget")) == 1  # a waits on b's interrupt
    await engine.approve(intr.data["id"], limit_tokens=10_000)
    await asyncio.wait_for(engine.wait(), 15)

    assert {rt.status for rt in engine.agents.values()} == {"done"}
    assert engine.budget.team_limit.tokens == 10_000
    assert engine.budget.team.tokens == 1210
    await store.close()


async def test_rejecting_the_team_budget_stops_the_agents(api, tmp_path):
    api.push("a", spend(1500), finish())
    team = make_team(tmp_path, [claude_agent("a")], budget={"tokens": 1000})
    engine, w, store = await start(team, tmp_path)
    intr = await w.wait_for("interrupt", "a", kind="budget")
    await engine.reject(intr.data["id"])
    await asyncio.wait_for(engine.wait(), 15)
    reason = w.find("agent_status", "a", status="failed")[0].data["reason"]
    assert reason.startswith("stopped at the team budget (1,500 tokens of 1,000 tokens)")
    await store.close()


# -- where the numbers show up ------------------------------------------------------------
async def test_usage_is_recorded_for_the_panel_the_runs_list_and_a_resume(api, tmp_path):
    api.push("a", Turn([tool("report_progress", text="x")], input_tokens=1000, output_tokens=200,
                       cache_read_tokens=5000, cache_write_tokens=800),
             finish(100))
    team = make_team(tmp_path, [claude_agent("a")])
    engine, w, store = await run_to_end(team, tmp_path)

    first = w.find("usage", "a")[0].data
    assert (first["input_tokens"], first["output_tokens"], first["cache_read_tokens"],
            first["cache_write_tokens"]) == (1000, 200, 5000, 800)
    expected = (1000 * 2 + 200 * 10 + 5000 * 0.1 + 800 * 2.5) / 1e6
    assert first["cost"] == pytest.approx(expected)
    assert first["model"] == "claude-sonnet-5-5"
    (run,) = await store.runs()
    assert run["cost"] == pytest.approx(expected + 100 * 2 / 1e6)
    assert run["tokens"] == 7100
    rows = await store.query("SELECT usage FROM agents WHERE id='a'")
    assert '"tokens": 7100' in rows[0][0]

    again = Engine(team, store, run_id=engine.run_id)
    await again.budget.restore()
    assert again.budget.per_agent["a"].tokens == 7100
    assert again.budget.team.cost == pytest.approx(run["cost"])
    await store.close()
