"""Fan-out of events to subscribers through bounded queues."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from engine.events import Event


class Subscription:
    """A bounded queue of events for one consumer (the TUI bridge, headless, a test)."""

    def __init__(self, bus: EventBus, maxsize: int, types: Iterable[str] | None) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.types = frozenset(types) if types else None

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    async def get(self) -> Event | None:
        """The next event, or None once the bus is closed."""
        return await self.queue.get()

    def get_batch(self, limit: int = 10_000) -> list[Event]:
        out: list[Event] = []
        while len(out) < limit:
            try:
                item = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if item is None:
                self.queue.put_nowait(None)  # keep the end marker for the next get
                break
            out.append(item)
        return out

    def __aiter__(self):
        return self

    async def __anext__(self) -> Event:
        event = await self.queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Publishes events to every subscriber.

    ``publish`` waits while a subscriber's queue is full: a slow consumer slows
    the producers down (back-pressure) instead of growing memory without bound.
    """

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.closed = False

    def subscribe(self, maxsize: int = 10_000, types: Iterable[str] | None = None) -> Subscription:
        sub = Subscription(self, maxsize, types)
        self._subs.append(sub)
        if self.closed:
            sub.queue.put_nowait(None)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def try_publish(self, event: Event) -> bool:
        """Publish without waiting; False (nothing published) when a queue is full."""
        subs = self._subs
        for sub in subs:
            if sub.queue.full() and (sub.types is None or event.type in sub.types):
                return False
        for sub in subs:
            if sub.types is None or event.type in sub.types:
                sub.queue.put_nowait(event)
        return True

    async def publish(self, event: Event) -> None:
        if self.try_publish(event):
            return
        for sub in self._subs:
            if not sub.wants(event):
                continue
            q = sub.queue
            if q.full():
                await q.put(event)
            else:
                q.put_nowait(event)

    async def close(self) -> None:
        self.closed = True
        for sub in list(self._subs):
            await sub.queue.put(None)
