"""Schedules as the person reads them: from the stored `schedule` events of a run."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from engine import events as ev
from engine.schedules.spec import when_text
from engine.schedules.state import ScheduleState, fold_events

if TYPE_CHECKING:
    from memory.store import Store


async def stored_schedules(store: Store, run_id: str) -> dict[str, ScheduleState]:
    rows = await store.query("SELECT agent, ts, data FROM events WHERE run_id=? AND type=? "
                             "ORDER BY seq", (run_id, ev.SCHEDULE))
    return fold_events([(agent, ts, json.loads(data)) for agent, ts, data in rows])


def next_firings_text(states: dict[str, ScheduleState], now: float | None = None) -> str:
    """`next firing: cron 14:05:00 CET, report Tue 01 Dec 09:00 CET` ('' without schedules)."""
    now = time.time() if now is None else now
    parts = []
    for agent, st in sorted(states.items()):
        when = "paused" if st.paused else when_text(st.next, st.timezone, now)
        parts.append(f"{agent} {when}")
    return f"next firing: {', '.join(parts)}" if parts else ""
