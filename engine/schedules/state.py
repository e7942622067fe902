"""What a schedule has done, folded from its `schedule` events.

The scheduler rebuilds itself from this fold on resume; the Schedules screen and
`runs` show it.  Pure data: no engine, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the `action` of a `schedule` event
ARMED, FIRED, SKIPPED, QUEUED, MISSED = "armed", "fired", "skipped", "queued", "missed"
COMPLETED, FAILED, PAUSED, RESUMED = "completed", "failed", "paused", "resumed"


@dataclass
class ScheduleState:
    agent: str
    cron: str = ""
    timezone: str = "UTC"
    overlap: str = "skip"
    missed_policy: str = "run_once"
    #: when the schedule was first armed (the offline clock starts there)
    since: float | None = None
    firings: int = 0
    last_planned: float | None = None  # the planned time of the newest recorded firing
    last_fired: float | None = None  # when it was recorded
    last_completed: float | None = None
    last_outcome: str = ""  # completed | failed
    last_result: str = ""
    in_progress: int | None = None  # the firing the agent works on
    in_progress_planned: float | None = None  # its planned time
    queued: float | None = None  # planned time of the firing waiting (queue_one)
    skipped: int = 0
    missed: int = 0
    last_skip: str = ""
    paused: bool = False
    next: float | None = None

    def fold(self, data: dict[str, Any], ts: float) -> None:
        """Apply one `schedule` event's data (recorded at ``ts``)."""
        action = data.get("action")
        if "next" in data:
            self.next = data["next"]
        if action == ARMED:
            self.cron = data.get("cron", self.cron)
            self.timezone = data.get("timezone", self.timezone)
            self.overlap = data.get("overlap", self.overlap)
            self.missed_policy = data.get("missed_policy", self.missed_policy)
            if self.since is None:
                self.since = ts
        elif action == FIRED:
            self.firings = max(self.firings, int(data.get("firing") or 0))
            if not data.get("manual"):
                self._planned(data)
            self.last_fired = ts
            self.missed += int(data.get("missed") or 0)
            if data.get("from_queue"):
                self.queued = None
            if not data.get("parallel"):
                self.in_progress = self.firings
                self.in_progress_planned = data.get("planned")
        elif action == SKIPPED:
            self.skipped += 1
            self.last_skip = str(data.get("reason") or "")
            if not data.get("manual"):
                self._planned(data)
        elif action == QUEUED:
            self.queued = data.get("planned")
            self._planned(data)
        elif action == MISSED:
            self.missed += int(data.get("count") or 0)
            self._planned(data)
        elif action in (COMPLETED, FAILED):
            self.in_progress = None
            self.last_outcome = action
            self.last_result = str(data.get("result") or "")
            if action == COMPLETED:
                self.last_completed = ts
        elif action == PAUSED:
            self.paused = True
        elif action == RESUMED:
            self.paused = False

    def _planned(self, data: dict[str, Any]) -> None:
        planned = data.get("planned")
        if isinstance(planned, int | float):
            self.last_planned = max(self.last_planned or planned, planned)


def fold_events(events: list[tuple[str | None, float, dict[str, Any]]]) -> dict[str, ScheduleState]:
    """(agent, ts, data) of `schedule` events, oldest first -> each agent's state."""
    out: dict[str, ScheduleState] = {}
    for agent, ts, data in events:
        if agent:
            out.setdefault(agent, ScheduleState(agent)).fold(data, ts)
    return out
