"""Budgets per period (real engine, fake Messages API, a manual clock): warnings at
50/75/90 % of the day, a pause at 100 % until midnight in the configured zone, the reset
as an event, the person's answers (go on once, raise), and a restart keeping the day's use."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fake_anthropic import Turn, claude_agent, fake_api_fixture, tool
from test_schedule import open_engine, resume_engine, settle

from engine import events as ev
from engine.loader import ConfigError, load_team
from engine.schedules.clock import ManualClock

api = fake_api_fixture()
PARIS = ZoneInfo("Europe/Paris")
DAY = {"every": "day", "tokens": 1000, "reset_at": "00:00", "tz": "Europe/Paris"}


def paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


def spend(tokens: int, name: str = "report_progress", **args) -> Turn:
    return Turn([tool(name, **(args or {"text": f"spent {tokens}"}))], input_tokens=tokens,
                output_tokens=0)


def team_of(tmp_path, **budget):
    from engine_support import make_team

    return make_team(tmp_path, [claude_agent("a", budget={"period": {**DAY, **budget}})])


async def test_a_day_budget_pauses_until_midnight_in_its_zone_and_starts_over(api, tmp_path):
    api.push("a", spend(550), spend(200), spend(160), spend(140), spend(10, "finish", summary="ok"))
    clock = ManualClock(paris(2026, 11, 30, 23, 0))
    engine, w = await open_engine(team_of(tmp_path), tmp_path, clock)
    await engine.start()
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "a", kind="budget")))
    intr = w.find(ev.INTERRUPT, "a", kind="budget")[0].data
    warnings = [(e.data["percent"], e.data["period"]) for e in w.find(ev.BUDGET_WARNING, "a")]
    assert warnings == [(50, "day"), (75, "day"), (90, "day")]
    assert intr["scope"] == "period" and intr["used_tokens"] == 1050
    assert intr["resets_at"] == paris(2026, 12, 1, 0, 0)
    assert ("a's day budget is spent (1,050 tokens of 1,000 tokens); it starts over at "
            "Tue 01 Dec 00:00 CET") in intr["prompt"]
    await settle(engine, lambda: engine.agents["a"].status == ev.PAUSED)
    assert len(api.requests_of("a")) == 4  # nothing more is asked while paused
    assert clock.next_wake == paris(2026, 12, 1, 0, 0)  # midnight in Paris, 23:00 UTC
    clock.set(paris(2026, 12, 1, 0, 0))
    await settle(engine, lambda: bool(w.find(ev.BUDGET_RESET)))
    reset = w.find(ev.BUDGET_RESET)[0].data
    assert (reset["scope"], reset["owner"], reset["period"]) == ("agent", "a", "day")
    assert reset["previous"]["tokens"] == 1050
    answered = w.find(ev.INTERRUPT_ANSWERED, "a")[0].data["answer"]
    assert answered["withdrawn"] and answered["reset"]
    await asyncio.wait_for(engine.wait(), 30)
    assert engine.agents["a"].status == ev.DONE  # the new day: on with the work
    assert len(w.find(ev.INTERRUPT, "a", kind="budget")) == 1  # 10 of the new day
    await engine.store.close()


@pytest.mark.parametrize("answer", ["once", "raise", "reject"])
async def test_the_person_lets_it_go_on_once_raises_the_day_or_stops_it(api, tmp_path, answer):
    api.push("a", spend(1000), spend(100), spend(10, "finish", summary="ok"))
    clock = ManualClock(paris(2026, 11, 30, 12, 0))
    engine, w = await open_engine(team_of(tmp_path), tmp_path, clock)
    await engine.start()
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "a", kind="budget")))
    first = w.find(ev.INTERRUPT, "a", kind="budget")[0].data["id"]
    if answer == "once":
        for n in (1, 2, 3):  # each approval lets one more response through, then it asks again
            await settle(engine, lambda n=n: len(w.find(ev.INTERRUPT, "a", kind="budget")) == n)
            assert len(api.requests_of("a")) == n
            await engine.approve(w.find(ev.INTERRUPT, "a", kind="budget")[n - 1].data["id"])
    elif answer == "raise":
        await engine.approve(first, limit_tokens=5000)
    else:
        await engine.reject(first, "enough for today")
    await asyncio.wait_for(engine.wait(), 30)
    if answer == "reject":
        status = w.find(ev.AGENT_STATUS, "a", status=ev.FAILED)[0].data
        assert status["reason"] == "stopped at its day budget: enough for today"
    else:
        assert engine.agents["a"].status == ev.DONE
        assert len(w.find(ev.INTERRUPT, "a", kind="budget")) == (3 if answer == "once" else 1)
    await engine.store.close()


async def test_the_days_spending_survives_a_restart(api, tmp_path):
    api.push("a", spend(600), Turn([tool("ask_user", question="go on?")], input_tokens=100,
                                   output_tokens=0), spend(200), spend(200),
             spend(10, "finish", summary="ok"))
    clock = ManualClock(paris(2026, 11, 30, 12, 0))
    team = team_of(tmp_path)
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "a", kind="user_input")))
    assert [e.data["percent"] for e in w.find(ev.BUDGET_WARNING, "a")] == [50]
    await engine.stop()
    await engine.store.close()
    engine, w = await resume_engine(team, tmp_path, engine.run_id, clock)
    intr = next(i for i in engine.interrupts.pending() if i.kind == "user_input")
    await engine.answer(intr.id, "yes")
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "a", kind="budget")))
    assert w.find(ev.INTERRUPT, "a", kind="budget")[0].data["used_tokens"] == 1100
    assert [e.data["percent"] for e in w.find(ev.BUDGET_WARNING, "a")] == [75, 90]
    await engine.stop()
    await engine.store.close()


def test_a_period_needs_a_limit_and_a_time(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text("name: t\nsandbox: {backend: local}\n"
                    "budget:\n  period: {every: day, reset_at: '24:00'}\n"
                    "agents:\n  - id: a\n    model: scripted\n    script: []\n"
                    "    budget: {period: {every: week}}\n")
    with pytest.raises(ConfigError) as err:
        load_team(path)
    found = sorted((p.line, p.field, p.message[:40]) for p in err.value.problems)
    assert found == [(4, "budget.period.reset_at", "'24:00' is not a time; write HH:MM, e.g."),
                     (9, "agents[0].budget", "a period budget needs `tokens`, `dollars")]


async def test_the_teams_day_budget_is_one_interrupt_and_one_reset_for_everyone(api, tmp_path):
    from engine_support import make_team

    api.push("a", spend(600), spend(600), spend(10, "finish", summary="a"))
    api.push("b", spend(300), spend(300), spend(10, "finish", summary="b"))
    clock = ManualClock(paris(2026, 11, 30, 23, 30))
    team = make_team(tmp_path, [claude_agent("a"), claude_agent("b")],
                     budget={"period": {**DAY, "tokens": 1000}})
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await settle(engine, lambda: engine.agents["a"].status == ev.PAUSED
                 and engine.agents["b"].status == ev.PAUSED)
    await settle(engine, lambda: len(w.find(ev.AGENT_STATUS, status=ev.PAUSED)) == 2)
    assert len(w.find(ev.INTERRUPT, kind="budget")) == 1  # one shared question
    clock.set(paris(2026, 12, 1, 0, 0))
    await asyncio.wait_for(engine.wait(), 30)
    assert [e.data["owner"] for e in w.find(ev.BUDGET_RESET)] == ["t"]
    assert {engine.agents[x].status for x in "ab"} == {ev.DONE}
    await engine.store.close()


async def test_a_limit_the_person_raised_holds_after_a_restart_until_the_reset(api, tmp_path):
    api.push("a", spend(1000), Turn([tool("ask_user", question="go on?")], input_tokens=100,
                                    output_tokens=0), spend(2000),
             spend(10, "finish", summary="ok"))
    clock = ManualClock(paris(2026, 11, 30, 12, 0))
    team = team_of(tmp_path)
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "a", kind="budget")))
    await engine.approve(w.find(ev.INTERRUPT, "a", kind="budget")[0].data["id"],
                         limit_tokens=5000)
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "a", kind="user_input")))
    await engine.stop()
    await engine.store.close()
    engine, w = await resume_engine(team, tmp_path, engine.run_id, clock)
    intr = next(i for i in engine.interrupts.pending() if i.kind == "user_input")
    await engine.answer(intr.id, "yes")
    await asyncio.wait_for(engine.wait(), 30)
    assert engine.agents["a"].status == ev.DONE  # 3,110 of the raised 5,000: no new pause
    assert w.find(ev.INTERRUPT, "a", kind="budget") == []
    await engine.stop()
    await engine.store.close()
