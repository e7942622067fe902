"""The engine's clock: wall-clock time, and sleeping until a wall-clock instant.

Schedules and period budgets think in wall-clock time (a firing at 09:00 Paris time,
a reset at midnight), so every wait for such an instant goes through a `Clock`.  The
engine uses the real one; tests inject a `ManualClock` and move it forward, so no test
waits for real time to pass.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

#: the longest one real sleep lasts: the wall clock may jump (NTP, a suspended laptop),
#: so a long wait looks at the clock again at least this often
MAX_NAP = 30.0


class Clock:
    """Real time: ``clock()`` is ``time.time()``."""

    def __call__(self) -> float:
        return time.time()

    async def sleep_until(self, when: float) -> None:
        """Return once ``clock() >= when`` (at once when it already is)."""
        while (left := when - self()) > 0:
            await asyncio.sleep(min(left, MAX_NAP))


class CallableClock(Clock):
    """A plain ``() -> float`` (an engine's older ``clock=`` argument) used as a Clock."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def __call__(self) -> float:
        return self._now()


class ManualClock(Clock):
    """Time that moves only when told to (``advance``, ``set``): sleepers whose instant
    has come wake at once, in order."""

    def __init__(self, start: float) -> None:
        self.now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep_until(self, when: float) -> None:
        if when <= self.now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), fut))
        await fut

    def set(self, ts: float) -> None:
        """Move to ``ts`` (never backwards) and wake every sleeper due by then."""
        self.now = max(self.now, float(ts))
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def advance(self, seconds: float) -> None:
        self.set(self.now + seconds)

    @property
    def next_wake(self) -> float | None:
        """The earliest instant a sleeper waits for (None: nobody sleeps)."""
        live = [w for w, _, f in self._sleepers if not f.done()]
        return min(live) if live else None


def as_clock(clock: Callable[[], float] | Clock) -> Clock:
    return clock if isinstance(clock, Clock) else CallableClock(clock)
