"""Fan-out of events to subscribers through bounded queues."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable

from engine.events import Event


class Subscription:
    """A bounded queue of events for one consumer (the TUI bridge, headless, a test).

    A deque plus futures rather than asyncio.Queue: every event of the run
    passes through here, and this is several times cheaper per item.  Producers
    waiting for space wait in a FIFO line; each item taken wakes the next one, so
    no producer's wake-up is ever lost to another's.
    """

    def __init__(self, bus: EventBus, maxsize: int, types: Iterable[str] | None) -> None:
        self._bus = bus
        self.maxsize = max(1, maxsize)
        self.types = frozenset(types) if types else None
        self._items: collections.deque[Event | None] = collections.deque()
        self._getter: asyncio.Future[None] | None = None
        self._space: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False
        self.high_water = 0  # the most events it ever held (never above maxsize)

    def wants(self, event: Event) -> bool:
        return self.types is None or event.type in self.types

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def push(self, item: Event | None) -> None:
        if self._closed:
            return
        items = self._items
        items.append(item)
        if len(items) > self.high_water and item is not None:  # the end marker is extra
            self.high_water = len(items)
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def wait_for_space(self) -> None:
        """Wait for a free slot, in turn with every other waiting producer."""
        if not self.full() and not self._space:
            return
        loop = asyncio.get_running_loop()
        again = False
        while True:
            fut = loop.create_future()
            if again:  # woken, but the slot went again: stay first in line
                self._space.appendleft(fut)
            else:
                self._space.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                self._space.remove(fut)
                self._wake_next()  # hand a wake-up we may hold to the next producer
                raise
            self._space.remove(fut)
            if not self.full() or self._closed or self._bus.closed:
                return
            again = True

    def _wake_next(self) -> None:
        """One free slot per waiting producer, oldest first."""
        free = self.maxsize - len(self._items)
        for fut in self._space:
            if free <= 0:
                break
            if not fut.done():
                fut.set_result(None)
            free -= 1  # a producer woken but not yet run also takes a slot

    def _taken(self) -> None:
        if self._space:
            self._wake_next()

    async def get(self) -> Event | None:
        """The next event, or None once the bus is closed."""
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item = self._items.popleft()
        if item is None:
            self._items.appendleft(None)  # keep the end marker for the next get
        self._taken()
        return item

    def get_batch(self, limit: int = 10_000) -> list[Event]:
        out: list[Event] = []
        items = self._items
        while items and len(out) < limit:
            item = items[0]
            if item is None:
                break
            out.append(items.popleft())
        if out:
            self._taken()
        return out

    def __aiter__(self):
        return self

    async def __anext__(self) -> Event:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        """Leave the bus: nothing more is queued, and no producer waits for this queue."""
        self._bus.unsubscribe(self)
        self._closed = True
        self._items.clear()
        self._items.append(None)  # a later get() returns None at once
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)
        self._wake_all()

    def _wake_all(self) -> None:
        for fut in self._space:
            if not fut.done():
                fut.set_result(None)


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
            sub.push(None)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def try_publish(self, event: Event) -> bool:
        """Publish without waiting; False (nothing published) when a wanting queue is full."""
        subs = self._subs
        for sub in subs:
            if sub.full() and (sub.types is None or event.type in sub.types):
                return False
        for sub in subs:
            if sub.types is None or event.type in sub.types:
                sub.push(event)
        return True

    async def publish(self, event: Event) -> None:
        if self.try_publish(event):
            return
        for sub in list(self._subs):
            if sub.wants(event):
                await sub.wait_for_space()
                sub.push(event)

    async def close(self) -> None:
        self.closed = True
        for sub in list(self._subs):
            sub.push(None)  # the end marker never waits for space
            sub._wake_all()  # nobody waits for a consumer that has reached the end
