"""Scheduled agents on a real engine (real SQLite, local sandboxes) with a manual clock:
firings at their times (across DST changes too), idle between them, overlap policies,
missed firings on resume, offline, and the person's controls. No test waits for real time."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from engine_support import Watcher, make_team, step

from engine import events as ev
from engine.resume import load_run_state
from engine.run import Engine
from engine.schedules.clock import ManualClock
from engine.schedules.spec import CronTimes
from memory.store import Store

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


async def settle(engine: Engine, pred, rounds: int = 2000, timeout: float = 30) -> None:
    """Let the engine's tasks run until ``pred()`` holds (the manual clock stays where it
    is; real time passes only for real I/O such as a commit or an HTTP request)."""
    for _ in range(rounds):
        if pred():
            return
        await asyncio.sleep(0)
    await engine.durable()
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def next_wake(engine: Engine, clock: ManualClock) -> float:
    """Move the clock to the next instant the engine sleeps until; that instant."""
    await settle(engine, lambda: clock.next_wake is not None)
    when = clock.next_wake
    clock.set(when)
    return when


async def open_engine(team, tmp_path, clock, **kw) -> tuple[Engine, Watcher]:
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, clock=clock, **kw)
    watcher = Watcher(engine)
    return engine, watcher


def actions(w: Watcher, agent: str = "cron") -> list[str]:
    return [e.data["action"] for e in w.find(ev.SCHEDULE, agent)]


def planned(w: Watcher, action: str, agent: str = "cron") -> list[float]:
    return [e.data["planned"] for e in w.find(ev.SCHEDULE, agent, action=action)]


def scheduled(schedule, script=None, **more):
    return {"id": "cron", "schedule": schedule,
            "script": script if script is not None else [step("report_progress", text="tick")],
            **more}


# -- the cron times themselves ----------------------------------------------------------------
def test_daily_time_fires_once_when_the_clocks_fall_back_and_at_the_change_when_they_spring():
    daily = CronTimes("30 2 * * *", "Europe/Paris")
    autumn = daily.between(paris(2026, 10, 24, 12), paris(2026, 10, 27, 12))
    assert [datetime.fromtimestamp(t, PARIS).strftime("%d %H:%M %Z") for t in autumn] == [
        "25 02:30 CEST", "26 02:30 CET", "27 02:30 CET"]
    spring = daily.between(paris(2026, 3, 28, 12), paris(2026, 3, 30, 12))
    assert [datetime.fromtimestamp(t, PARIS).strftime("%d %H:%M %Z") for t in spring] == [
        "29 03:00 CEST", "30 02:30 CEST"]


def test_hourly_fires_every_real_hour_across_both_changes():
    hourly = CronTimes("30 * * * *", "Europe/Paris")
    autumn = hourly.between(paris(2026, 10, 25, 0), paris(2026, 10, 25, 4))
    assert [b - a for a, b in zip(autumn, autumn[1:], strict=False)] == [3600] * (len(autumn) - 1)
    assert len(autumn) == 5  # 00:30 01:30 02:30 CEST 02:30 CET 03:30
    spring = hourly.between(paris(2026, 3, 29, 0), paris(2026, 3, 29, 5))
    assert [b - a for a, b in zip(spring, spring[1:], strict=False)] == [3600] * (len(spring) - 1)


def test_seconds_come_first_in_six_fields():
    every10 = CronTimes("*/10 * * * * *", "UTC")
    assert every10.next_after(1_000_000_000) == 1_000_000_010


# -- firings on a running engine ----------------------------------------------------------------
async def test_a_scheduled_agent_idles_then_fires_at_each_time_across_a_dst_change(tmp_path):
    clock = ManualClock(paris(2026, 10, 24, 12))
    team = make_team(tmp_path, [scheduled({"cron": "30 2 * * *", "timezone": "Europe/Paris"})])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    rt = engine.agents["cron"]
    await settle(engine, lambda: rt.status == ev.IDLE)
    assert "next firing" in rt.activity and "02:30" in rt.activity
    for _ in range(3):
        await next_wake(engine, clock)
        await settle(engine, lambda n=len(planned(w, "completed")): len(planned(w, "completed")) > n)
        await settle(engine, lambda: rt.status == ev.IDLE)
    fired = [datetime.fromtimestamp(t, PARIS).strftime("%d %H:%M %Z") for t in planned(w, "fired")]
    assert fired == ["25 02:30 CEST", "26 02:30 CET", "27 02:30 CET"]
    assert len(w.find(ev.TOOL_CALL, "cron", tool="report_progress")) == 3
    assert not engine.finished.is_set()  # a team with a schedule lives on while idle
    await engine.stop()
    assert engine.status == "stopped"


async def resume_engine(team, tmp_path, run_id: str, clock) -> tuple[Engine, Watcher]:
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, clock=clock, run_id=run_id)
    engine.pending_resume = await load_run_state(store, run_id)
    watcher = Watcher(engine)
    await engine.start()
    return engine, watcher


BUSY = [step("ask_user", question="go on?"), step("finish", summary="answered")]


async def answer_question(engine: Engine, w: Watcher, seen: int = 0) -> None:
    await settle(engine, lambda: len(w.find(ev.INTERRUPT, "cron", kind="user_input")) > seen)
    intr = w.find(ev.INTERRUPT, "cron", kind="user_input")[seen]
    await engine.answer(intr.data["id"], "yes")


async def test_a_firing_while_busy_is_skipped_and_recorded(tmp_path):
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [scheduled("*/10 * * * * *", BUSY)])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    first = await next_wake(engine, clock)
    await settle(engine, lambda: engine.agents["cron"].status == ev.WAITING_USER)
    second = await next_wake(engine, clock)  # the agent still waits for its answer
    await settle(engine, lambda: "skipped" in actions(w))
    skip = w.find(ev.SCHEDULE, "cron", action="skipped")[0].data
    assert skip["planned"] == second == first + 10
    assert skip["reason"] == "cron is still busy with firing #1"
    await answer_question(engine, w)
    await settle(engine, lambda: "completed" in actions(w))
    await settle(engine, lambda: engine.agents["cron"].status == ev.IDLE)
    assert actions(w).count("fired") == 1  # the skipped one never runs
    third = await next_wake(engine, clock)
    await settle(engine, lambda: actions(w).count("fired") == 2)
    assert planned(w, "fired") == [first, third]
    await engine.stop()


async def test_queue_one_runs_one_waiting_firing_as_soon_as_the_agent_is_free(tmp_path):
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [scheduled({"cron": "*/10 * * * * *", "overlap": "queue_one"},
                                          BUSY)])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    first = await next_wake(engine, clock)
    await settle(engine, lambda: engine.agents["cron"].status == ev.WAITING_USER)
    second = await next_wake(engine, clock)
    await settle(engine, lambda: "queued" in actions(w))
    third = await next_wake(engine, clock)
    await settle(engine, lambda: "skipped" in actions(w))
    assert "one firing already waits" in w.find(ev.SCHEDULE, "cron", action="skipped")[0].data["reason"]
    await answer_question(engine, w)
    await settle(engine, lambda: actions(w).count("fired") == 2)
    again = w.find(ev.SCHEDULE, "cron", action="fired")[1].data
    assert again["planned"] == second and again["from_queue"] is True
    await answer_question(engine, w, 1)
    await settle(engine, lambda: actions(w).count("completed") == 2)
    await settle(engine, lambda: engine.agents["cron"].status == ev.IDLE)
    assert planned(w, "fired") == [first, second] and third == second + 10
    await engine.stop()


@pytest.mark.parametrize("policy", ["run_once", "skip"])
async def test_firings_missed_while_stopped_run_once_or_are_skipped_on_resume(tmp_path, policy):
    clock = ManualClock(paris(2026, 11, 30, 8, 59))
    team = make_team(tmp_path, [scheduled({"cron": "0 * * * *", "timezone": "Europe/Paris",
                                           "missed": policy})])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await next_wake(engine, clock)  # 09:00
    await settle(engine, lambda: "completed" in actions(w))
    await engine.stop()
    await engine.store.close()
    clock.set(paris(2026, 11, 30, 12, 30))  # 10:00, 11:00 and 12:00 were missed
    engine, w = await resume_engine(team, tmp_path, engine.run_id, clock)
    if policy == "run_once":
        await settle(engine, lambda: "completed" in actions(w))
        fired = w.find(ev.SCHEDULE, "cron", action="fired")
        assert [(e.data["planned"], e.data["missed"]) for e in fired] == [(paris(2026, 11, 30, 12), 3)]
    else:
        await settle(engine, lambda: "missed" in actions(w))
        missed = w.find(ev.SCHEDULE, "cron", action="missed")[0].data
        assert (missed["planned"], missed["count"]) == (paris(2026, 11, 30, 12), 3)
        # nothing completed for 3.5 hours, over twice the hour between firings
        await settle(engine, lambda: engine.agents["cron"].status == ev.OFFLINE)
        assert "fired" not in actions(w)
    assert await next_wake(engine, clock) == paris(2026, 11, 30, 13)
    await settle(engine, lambda: "fired" in actions(w) and planned(w, "fired")[-1] == paris(2026, 11, 30, 13))
    await engine.stop()


async def test_offline_when_no_firing_completes_for_longer_than_the_threshold(tmp_path):
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [scheduled({"cron": "0 0 * * *", "offline_after": "1m"})])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    rt = engine.agents["cron"]
    await settle(engine, lambda: rt.status == ev.IDLE)
    assert await next_wake(engine, clock) == 1_000_000_060  # the threshold, before midnight
    await settle(engine, lambda: rt.status == ev.OFFLINE)
    assert rt.activity.startswith("no firing completed yet; next firing")
    await engine.handle_command({"type": "schedule_run", "agent": "cron"})
    await settle(engine, lambda: "completed" in actions(w) and rt.status == ev.IDLE)
    await engine.stop()


async def test_run_now_pause_and_resume_from_the_control_commands(tmp_path):
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [scheduled("0 0 * * *")])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await settle(engine, lambda: engine.agents["cron"].status == ev.IDLE)
    await engine.handle_command({"type": "schedule_run", "agent": "cron"})
    await settle(engine, lambda: "completed" in actions(w))
    assert w.find(ev.SCHEDULE, "cron", action="fired")[0].data["manual"] is True
    await engine.handle_command({"type": "schedule_pause", "agent": "cron"})
    await settle(engine, lambda: engine.agents["cron"].activity == "schedule paused")
    from engine.recording import ControlError
    with pytest.raises(ControlError, match="already paused"):
        await engine.handle_command({"type": "schedule_pause", "agent": "cron"})
    await engine.handle_command({"type": "schedule_resume", "agent": "cron"})
    await settle(engine, lambda: "next firing" in engine.agents["cron"].activity)
    with pytest.raises(ControlError, match="'nobody' has no schedule; scheduled agents: cron"):
        await engine.handle_command({"type": "schedule_run", "agent": "nobody"})
    await engine.stop()
