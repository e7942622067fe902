"""Replay: play a past run's recorded events back onto an event bus.

`EventPlayer` publishes the events of a run at the pace they were recorded,
scaled by ``speed``, with long gaps shortened to ``max_gap`` seconds (a run that
waited an hour for the person replays that wait in a second).  It can pause,
step one event, change speed and jump to the end.  Any consumer of an engine
bus (the TUI bridge, a test) consumes the player's bus the same way; no Textual.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.bus import EventBus
from engine.events import Event

if TYPE_CHECKING:
    from engine.config import TeamConfig

MAX_GAP = 1.0  # seconds of replay at most between two events (before speed)
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
MIN_WAIT = 0.001  # shorter pauses are not worth a timer


class EventPlayer:
    """Publishes ``events`` onto ``self.bus``; the bus closes after the last one."""

    def __init__(self, events: Sequence[Event], *, speed: float = 1.0,
                 max_gap: float = MAX_GAP, paused: bool = False) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.events = list(events)
        self.bus = EventBus()
        self.speed = speed
        self.max_gap = max_gap
        self.paused = paused
        self.position = 0  # events published so far
        self.on_change: Callable[[], None] | None = None  # called after every change
        self._steps = 0  # events to publish now, even while paused
        self._to_end = False
        self._wake = asyncio.Event()

    # -- where the replay is ----------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.events)

    @property
    def at_end(self) -> bool:
        return self.position >= self.total

    @property
    def start_ts(self) -> float | None:
        return self.events[0].ts if self.events else None

    @property
    def current_ts(self) -> float | None:
        """The recorded time of the last event published (the run's time on screen)."""
        if self.position == 0:
            return self.start_ts
        return self.events[self.position - 1].ts

    def delay_before(self, index: int) -> float:
        """Seconds to wait before publishing event ``index`` at the current speed."""
        if index == 0 or index >= self.total:
            return 0.0
        gap = self.events[index].ts - self.events[index - 1].ts
        return max(0.0, min(gap, self.max_gap)) / self.speed

    # -- controls -----------------------------------------------------------------------
    def pause(self) -> None:
        self._set(paused=True)

    def resume(self) -> None:
        self._set(paused=False)

    def toggle(self) -> None:
        self._set(paused=not self.paused)

    def step(self, count: int = 1) -> None:
        """Pause, then publish the next ``count`` events."""
        self._steps += count
        self._set(paused=True)

    def faster(self) -> None:
        self._set(speed=next((s for s in SPEEDS if s > self.speed), self.speed))

    def slower(self) -> None:
        self._set(speed=next((s for s in reversed(SPEEDS) if s < self.speed), self.speed))

    def jump_to_end(self) -> None:
        self._to_end = True
        self._set()

    def _set(self, *, paused: bool | None = None, speed: float | None = None) -> None:
        if paused is not None:
            self.paused = paused
        if speed is not None:
            self.speed = speed
        self._wake.set()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- playing -----------------------------------------------------------------------
    async def run(self) -> None:
        """Play until the last event (or until cancelled); then close the bus."""
        try:
            while not self.at_end:
                if self._to_end or self._steps:
                    self._steps = max(0, self._steps - 1)
                    await self._publish_next()
                    continue
                if self.paused:
                    await self._wait(None)
                    continue
                delay = self.delay_before(self.position)
                if delay >= MIN_WAIT and await self._wait(delay):
                    continue  # a control changed something: look again
                await self._publish_next()
        finally:
            await self.bus.close()
            self._changed()

    async def _wait(self, timeout: float | None) -> bool:
        """Sleep until a control is used (True) or ``timeout`` passes (False)."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _publish_next(self) -> None:
        event = self.events[self.position]
        self.position += 1
        await self.bus.publish(event)
        self._changed()
        await asyncio.sleep(0)  # let the consumer and the UI run between events


def team_of_run(run: dict) -> TeamConfig | None:
    """The run's team as recorded at its start (else its file as it is now), or None."""
    from engine.loader import ConfigError, load_team
    from engine.resume import recorded_team

    recorded = recorded_team(run)
    if recorded is not None:
        return recorded

    meta = json.loads(run.get("meta") or "{}")
    base = Path(meta["base_dir"]) if meta.get("base_dir") else None
    try:
        return load_team(run["config_path"], base_dir=base)
    except (ConfigError, OSError, TypeError):
        return None
