"""How the engine records events: durable before visible, and write or stop.

Every event is appended to the store and reaches the bus's subscribers only
once the transaction holding it committed.  ``durable()`` waits for that before
an effect outside the store.  When the store cannot write, ``emit`` and
``durable`` raise :class:`RunAborted`, the engine stops every agent, and the
subscribers get an unrecorded `error` and `run_finished` saying what to do.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine import events as ev
from memory.store import StoreError
from memory.text_safety import clean_value, has_surrogates

if TYPE_CHECKING:
    from engine.bus import EventBus
    from memory.store import Store

_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode  # one encoder, reused


class ControlError(Exception):
    """A control command (from a key or a headless line) that cannot be carried out."""


class RunAborted(ControlError):
    """The run stopped because its state database could not be written.

    Raised by ``emit`` and ``durable`` once the store failed: an agent's task
    ends at its next step without doing anything more, a control command is
    refused with the store's error.
    """


class EventRecorder:
    """The engine's events: numbered, stored, published after commit (a mixin of Engine)."""

    store: Store
    bus: EventBus
    run_id: str
    seq: int
    status: str
    finished: asyncio.Event
    _abort_task: asyncio.Task | None
    #: secrets and pass_env values replaced before anything is recorded (engine/network_secrets.py)
    redactor: Any = None

    clock: Callable[[], float]

    async def emit(self, type: str, agent: str | None = None, *,
                   with_sql: list[tuple[str, tuple]] | None = None, **data: Any) -> ev.Event:
        """Record one event (``with_sql`` commits atomically with it); subscribers get
        it once it is committed.  Waits while the store's queue is full."""
        store = self.store
        if store.failure is not None:
            raise RunAborted(str(store.failure))
        if store.backlogged:  # back-pressure: the writer (or a subscriber) is behind
            try:
                await store.room()
            except StoreError as exc:
                raise RunAborted(str(exc)) from None
        encoded = _encode(data)
        if has_surrogates(encoded):  # a bad string from outside: never unencodable
            data = clean_value(data)
            encoded = _encode(data)
        if self.redactor:
            data, encoded = self.redactor.clean(data, encoded)
        self.seq += 1
        event = ev.Event(type, self.run_id, self.seq, self.clock(), agent, data)
        store.append_event(self.run_id, event.seq, event.ts, type, agent, encoded,
                           with_sql, event)
        return event

    async def durable(self) -> None:
        """Wait until every event emitted so far is committed.  Called before an effect
        outside the store (a command, a file write, an answer the agent acts on), so
        that a crash never repeats it nor forgets it happened."""
        try:
            await self.store.flush()
        except StoreError as exc:
            raise RunAborted(str(exc)) from None

    def _publish_committed(self, events: list[ev.Event]) -> Any:
        bus = self.bus
        for i, event in enumerate(events):
            if not bus.try_publish(event):  # a full queue: wait (back-pressure)
                return self._publish_waiting(events[i:])
        return None

    async def _publish_waiting(self, events: list[ev.Event]) -> None:
        for event in events:
            await self.bus.publish(event)

    def _store_failed(self, error: StoreError) -> None:
        """The store could not write: stop every agent; the run ends unrecorded."""
        if not self.finished.is_set():
            self._abort_task = asyncio.get_running_loop().create_task(
                self._abort(), name="engine-abort")

    def failure_text(self) -> str:
        """What went wrong with the store and what to do, or ""."""
        if self.store.failure is None:
            return ""
        return (f"{self.store.failure}. The run stopped at what was recorded; once that is "
                f"fixed, continue it with `agentorch-tui --resume {self.run_id}`")

    async def _end_unrecorded(self, summary: dict[str, str]) -> None:
        """The store failed: tell every subscriber (never recorded, so never replayed);
        the run stays `running` in the database and is resumed from what was committed."""
        self.status = "failed"
        text = self.failure_text()
        for type, data in ((ev.ERROR, {"level": "error", "text": text, "fatal": True}),
                           (ev.RUN_FINISHED, {"status": "failed", "reason": text,
                                              "agents": summary})):
            self.seq += 1
            await self.bus.publish(ev.Event(type, self.run_id, self.seq, self.clock(), None,
                                            {**data, "recorded": False}))

