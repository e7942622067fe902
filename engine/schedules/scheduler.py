"""The scheduler: wakes scheduled agents at their firings, one timer task per agent.

A scheduled agent is `idle` between firings.  A firing is recorded (a `schedule` event,
committed) before it is delivered, and the agent's work for it ends with a `completed`
or `failed` event; on resume the scheduler folds those events back, so a firing is
never run twice because of a crash: one recorded and not finished goes on where it
stopped (a scripted agent at its next step; a message that never reached a Claude
agent is delivered then, once), and the next firing is computed from the newest one.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.agent import AgentFinished
from engine.brains.base import BrainError, ToolResult
from engine.messaging import USER
from engine.recording import RunAborted
from engine.schedules import state as sa
from engine.schedules.clock import as_clock
from engine.schedules.spec import CronTimes, when_text
from engine.schedules.state import ScheduleState

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.config import AgentConfig
    from engine.run import Engine

#: the most missed firings counted one by one on resume (a per-second schedule stopped
#: for days would otherwise take a while); beyond it the count says "at least"
MISSED_COUNT_LIMIT = 10_000
RESULT_CHARS = 500
DEFAULT_INSTRUCTIONS = "Your scheduled time has come: do your work."


class ScheduleRefused(Exception):
    """A firing the person asked for could not run (one sentence)."""


class Scheduler:
    def __init__(self, engine: Engine, agents: list[AgentConfig]) -> None:
        self.engine = engine
        self.clock = as_clock(engine.clock)
        self.configs = {a.id: a for a in agents}
        self.times: dict[str, CronTimes] = {}
        self.states: dict[str, ScheduleState] = {}
        for a in agents:
            assert a.schedule is not None
            times = a.schedule.times()
            self.times[a.id] = times
            self.states[a.id] = ScheduleState(a.id, a.schedule.cron, times.zone_name,
                                              a.schedule.overlap, a.schedule.missed)
        #: firings are computed after this instant (the newest planned one, or a restart)
        self._after: dict[str, float] = {}
        #: the newest firing delivered to each agent (its instructions are in its inbox)
        self._ready = dict.fromkeys(self.states, 0)
        self._delivered = {a: asyncio.Event() for a in self.states}
        #: the firing each agent was inside when the run stopped (resume goes on with it)
        self._resumed_firing: dict[str, int] = {}
        self._poke = {a: asyncio.Event() for a in self.states}
        self._undelivered: set[str] = set()
        self._tasks: list[asyncio.Task] = []

    @classmethod
    def of(cls, engine: Engine) -> Scheduler | None:
        agents = [a for a in engine.team.agents if a.schedule is not None]
        return cls(engine, agents) if agents else None

    def owns(self, agent_id: str) -> bool:
        return agent_id in self.states

    def in_firing(self, agent_id: str) -> bool:
        st = self.states.get(agent_id)
        return st is not None and st.in_progress is not None

    def next_firing(self, agent_id: str) -> float | None:
        st = self.states[agent_id]
        return None if st.paused else self.times[agent_id].next_after(self._base(agent_id))

    def _base(self, agent_id: str) -> float:
        return self._after.get(agent_id) or self.clock()

    # -- recording -------------------------------------------------------------------------
    async def _emit(self, agent_id: str, action: str, **data: Any) -> None:
        st = self.states[agent_id]
        data = {"action": action, **data}
        st.fold(data, self.clock())
        data["next"] = self.next_firing(agent_id)
        st.next = data["next"]
        await self.engine.emit(ev.SCHEDULE, agent_id, **data)

    # -- start, resume, stop -----------------------------------------------------------------
    async def restore(self) -> None:
        """On resume: each schedule's history, the position inside an unfinished firing."""
        store, run_id = self.engine.store, self.engine.run_id
        rows = await store.query("SELECT seq, ts, agent, data FROM events WHERE run_id=? AND "
                                 "type=? AND agent IS NOT NULL ORDER BY seq", (run_id, ev.SCHEDULE))
        fired_at: dict[str, int] = {}  # the seq of each agent's newest (non-parallel) firing
        for seq, ts, agent, raw in rows:
            st = self.states.get(agent)
            if st is None:
                continue
            data = json.loads(raw)
            st.fold(data, ts)
            if data.get("action") == sa.FIRED and not data.get("parallel"):
                fired_at[agent] = seq
        for agent, st in self.states.items():
            rt = self.engine.agents.get(agent)
            if st.in_progress is None or rt is None:
                continue
            if rt.config.is_scripted:  # its script goes on after the calls of this firing
                calls = await store.query(
                    "SELECT COUNT(*) FROM events WHERE run_id=? AND type=? AND agent=? AND seq>? "
                    "AND json_extract(data, '$.resumed') IS NULL",
                    (run_id, ev.TOOL_CALL, agent, fired_at.get(agent, 0)))
                rt.brain.new_firing(st.in_progress, int(calls[0][0]) if calls else 0)
            elif not await self._was_delivered(agent, st.in_progress):
                self._undelivered.add(agent)
                continue  # start() delivers it, and the agent takes it as a new firing
            self._ready[agent] = self._resumed_firing[agent] = st.in_progress

    async def _was_delivered(self, agent: str, firing: int) -> bool:
        rows = await self.engine.store.query(
            "SELECT 1 FROM messages WHERE run_id=? AND recipient=? AND sender=? AND body LIKE ?",
            (self.engine.run_id, agent, USER, f"{_marker(agent, firing)}%"))
        return bool(rows)

    async def start(self) -> None:
        """Arm every schedule (after the agents' tasks exist) and start the timers."""
        now = self.clock()
        for agent, st in self.states.items():
            spec = self.configs[agent].schedule
            assert spec is not None
            # a new run counts from now; a resumed one from its newest firing
            self._after[agent] = now if st.since is None else (st.last_planned or st.since or now)
            await self._emit(agent, sa.ARMED, cron=spec.cron, timezone=self.times[agent].zone_name,
                             overlap=spec.overlap, missed_policy=spec.missed)
        for agent in self._undelivered:  # recorded, never delivered (a crash): deliver it now
            await self._deliver(agent, self.states[agent].in_progress or 0,
                                self.states[agent].last_planned or now)
        self._undelivered.clear()
        for agent in self.states:
            self._tasks.append(asyncio.create_task(self._timer(agent), name=f"schedule-{agent}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- the timer ---------------------------------------------------------------------------
    async def _timer(self, agent: str) -> None:
        try:
            await self._catch_up(agent)
            await self._tick(agent)
        except (asyncio.CancelledError, RunAborted):
            raise
        except Exception as exc:  # a bug: say so loudly, keep the run
            self.engine.log_exception(agent, exc)
            await self.engine.emit(ev.NOTICE, agent, level="error",
                                   text=f"{agent}: its schedule stopped: {type(exc).__name__}: {exc}")

    async def _tick(self, agent: str) -> None:
        st, times, rt = self.states[agent], self.times[agent], self.engine.agents[agent]
        poke = self._poke[agent]
        while not rt.finished:
            poke.clear()
            if st.paused:
                await poke.wait()
                continue
            target = times.next_after(self._after[agent])
            offline_at = self._offline_at(agent)
            wake = min(target, offline_at) if offline_at > self.clock() else target
            if await self._sleep(agent, wake):
                continue  # poked: paused, resumed, or the agent became idle
            if self.clock() >= target and not st.paused:
                self._after[agent] = target
                await self.offer(agent, target)
            await self._show_offline(agent)

    async def _sleep(self, agent: str, until: float) -> bool:
        """Sleep until ``until`` on the engine's clock; True when poked before."""
        sleeper = asyncio.ensure_future(self.clock.sleep_until(until))
        poked = asyncio.ensure_future(self._poke[agent].wait())
        try:
            done, _ = await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            poked.cancel()
        return poked in done and sleeper not in done

    async def _catch_up(self, agent: str) -> None:
        """Firings that fell while agentorch was not running (a resumed run)."""
        now, after = self.clock(), self._after[agent]
        self._after[agent] = max(after, now)
        if after >= now or self.states[agent].paused:  # a paused schedule catches nothing up
            return
        missed = self.times[agent].between(after, now, MISSED_COUNT_LIMIT)
        if not missed:
            return
        if self.configs[agent].schedule.missed == "run_once":  # type: ignore[union-attr]
            await self.offer(agent, missed[-1], missed=len(missed))
        else:
            await self._emit(agent, sa.MISSED, planned=missed[-1], count=len(missed))

    # -- firings ------------------------------------------------------------------------------
    async def offer(self, agent: str, planned: float, *, manual: bool = False,
                    missed: int = 0) -> str:
        """A firing is due: fire, queue or skip it by the overlap policy; what happened."""
        st, rt = self.states[agent], self.engine.agents[agent]
        spec = self.configs[agent].schedule
        assert spec is not None
        extra = {"manual": True} if manual else {}
        if rt.finished:
            return await self._skip(agent, planned, f"{ev.ended_text(agent, rt.status)}", extra)
        if rt.paused:
            return await self._skip(agent, planned, f"{agent} is paused", extra)
        if st.in_progress is None:
            await self.fire(agent, planned, missed=missed, **extra)
            return sa.FIRED
        busy = f"{agent} is still busy with firing #{st.in_progress}"
        if spec.overlap == "queue_one" and st.queued is None:
            await self._emit(agent, sa.QUEUED, planned=planned, reason=busy, **extra)
            return sa.QUEUED
        if spec.overlap == "parallel":
            await self.fire(agent, planned, missed=missed, parallel=True, **extra)
            return sa.FIRED
        why = busy + ("; one firing already waits" if spec.overlap == "queue_one" else "")
        return await self._skip(agent, planned, why, extra)

    async def _skip(self, agent: str, planned: float, reason: str, extra: dict[str, Any]) -> str:
        await self._emit(agent, sa.SKIPPED, planned=planned, reason=reason, **extra)
        return f"skipped: {reason}"

    async def fire(self, agent: str, planned: float, **extra: Any) -> None:
        st = self.states[agent]
        firing = st.firings + 1
        await self._emit(agent, sa.FIRED, planned=planned, firing=firing, **extra)
        # recorded (committed) before delivered: a crash past this line never runs it twice
        await self.engine.durable()
        await self._deliver(agent, firing, planned, parallel=bool(extra.get("parallel")))

    async def _deliver(self, agent: str, firing: int, planned: float, parallel: bool = False) -> None:
        rt = self.engine.agents[agent]
        if not rt.config.is_scripted:  # a scripted agent plays its script: no message
            text = (f"{_marker(agent, firing)} planned {when_text(planned, self.times[agent].zone_name)}] "
                    f"{self.instructions(rt.config)}\n(When this firing's work is done, call "
                    "finish; you will be woken again at the next firing.)")
            await self.engine.post.send(USER, agent, text)
        if not parallel:  # a parallel one reaches the busy agent as a message, no more
            self._ready[agent] = max(self._ready[agent], firing)
            self._delivered[agent].set()

    def instructions(self, config: AgentConfig) -> str:
        return config.instructions_on_schedule or config.initial_instructions or DEFAULT_INSTRUCTIONS

    # -- the agent's side ---------------------------------------------------------------------
    async def serve(self, rt: AgentRuntime, results: list[ToolResult]) -> None:
        """The life of a scheduled agent: wait for a firing, work, record, again (until cancelled)."""
        from engine.toolbox import execute

        agent, st = rt.agent_id, self.states[rt.agent_id]
        taken = self._resumed_firing.pop(agent, 0)
        if not taken:
            taken = await self._wait_for_firing(rt, 0)
        while True:
            outcome, text = await self._work(rt, execute, results)
            await self._emit(agent, outcome, firing=st.in_progress, planned=st.in_progress_planned,
                             result=text[:RESULT_CHARS])
            results = [rt.finish_result] if rt.finish_result is not None else []
            rt.finish_result = None
            taken = await self._wait_for_firing(rt, taken)

    async def _work(self, rt: AgentRuntime, execute: Any, results: list[ToolResult]) -> tuple[str, str]:
        try:
            return sa.COMPLETED, await rt.work(execute, results)
        except AgentFinished as fin:
            return sa.COMPLETED, fin.summary
        except BrainError as exc:  # this firing failed; the schedule goes on
            await rt.emit(ev.NOTICE, level="error", text=f"{rt.agent_id}: firing failed: {exc}")
            return sa.FAILED, str(exc)

    async def _wait_for_firing(self, rt: AgentRuntime, taken: int) -> int:
        """Wait until a firing newer than ``taken`` is delivered; its number."""
        agent, st = rt.agent_id, self.states[rt.agent_id]
        if st.queued is not None and not rt.paused:
            await self.fire(agent, st.queued, from_queue=True)
        if self._ready[agent] <= taken:
            await self._show_idle(rt)
            self._poke[agent].set()  # the timer looks again (the offline deadline moved)
        while self._ready[agent] <= taken:
            self._delivered[agent].clear()
            await self._delivered[agent].wait()
        rt.summary = ""
        if hasattr(rt.brain, "summary"):
            rt.brain.summary = ""
        rt.brain.new_firing(st.in_progress or 0)
        await rt.set_status(ev.RUNNING if rt.plan_approved else ev.PLANNING,
                            f"firing #{st.in_progress}")
        return self._ready[agent]

    # -- idle and offline ---------------------------------------------------------------------
    def _offline_after(self, agent: str) -> float:
        spec = self.configs[agent].schedule
        assert spec is not None
        if spec.offline_after is not None:
            return float(spec.offline_after)
        return max(60.0, 2 * self.times[agent].period(self._base(agent)))

    def _offline_at(self, agent: str) -> float:
        st = self.states[agent]
        return (st.last_completed or st.since or self.clock()) + self._offline_after(agent)

    def idle_text(self, agent: str) -> str:
        st = self.states[agent]
        if st.paused:
            return "schedule paused"
        nxt = self.next_firing(agent)
        zone = self.times[agent].zone_name
        return f"next firing {when_text(nxt, zone, self.clock())}"

    async def _show_idle(self, rt: AgentRuntime) -> None:
        agent = rt.agent_id
        # a schedule the person paused is not offline: nobody expects it to fire
        offline = not self.states[agent].paused and self.clock() >= self._offline_at(agent)
        text = self.idle_text(agent)
        if offline:
            done = self.states[agent].last_completed
            since = (f"since {when_text(done, self.times[agent].zone_name, self.clock())}"
                     if done else "yet")
            text = f"no firing completed {since}; {text}"
        await rt.set_status(ev.OFFLINE if offline else ev.IDLE, text, next=self.next_firing(agent))

    async def _show_offline(self, agent: str) -> None:
        rt = self.engine.agents[agent]
        if self.states[agent].in_progress is None and rt.status in (ev.IDLE, ev.OFFLINE):
            await self._show_idle(rt)

    # -- the person's controls --------------------------------------------------------------
    async def run_now(self, agent: str) -> str:
        self._require(agent)
        outcome = await self.offer(agent, self.clock(), manual=True)
        if outcome.startswith("skipped: "):
            raise ScheduleRefused(outcome.removeprefix("skipped: "))
        return outcome

    async def pause(self, agent: str) -> None:
        st = self._require(agent)
        if st.paused:
            raise ScheduleRefused(f"the schedule of {agent} is already paused")
        await self._emit(agent, sa.PAUSED)
        self._poke[agent].set()
        await self._show_offline(agent)

    async def resume(self, agent: str) -> None:
        st = self._require(agent)
        if not st.paused:
            raise ScheduleRefused(f"the schedule of {agent} is not paused")
        self._after[agent] = self.clock()  # firings of the pause are not caught up
        await self._emit(agent, sa.RESUMED)
        self._poke[agent].set()
        await self._show_offline(agent)

    def _require(self, agent: str) -> ScheduleState:
        st = self.states.get(agent)
        if st is None:
            scheduled = ", ".join(self.states) or "none"
            raise ScheduleRefused(f"{agent!r} has no schedule; scheduled agents: {scheduled}")
        return st


def _marker(agent: str, firing: int) -> str:
    return f"[schedule: {agent} firing #{firing},"
