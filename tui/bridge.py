"""The bridge: the one task that reads the engine bus and tells the UI.

It folds every event into the pure `RunState` and `ConsoleBuffers`, posts one
`EventsApplied` message per batch of state events, and every ``flush_interval``
posts the visible agent's new console lines as one `ConsoleLinesReady` (the
console widget writes them with a single `write_lines`).  Other agents' output only
goes to their bounded buffers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.message import Message
from textual.message_pump import MessagePump

from engine import events as ev
from engine.bus import EventBus
from tui.console_buffers import ConsoleBuffers
from tui.state import RunState

FLUSH_INTERVAL = 0.075  # seconds between console flushes of the visible agent
QUEUE_SIZE = 1024  # events; when the UI falls behind, the bus makes the agents wait
BUFFERED = frozenset({ev.CONSOLE, ev.ASSISTANT_TEXT})  # go to the console buffers, batched
SLICE = 64  # events taken from the bus at once; state events are folded together, but the
# loop gets a turn after every console event (up to 64 KiB, ~13k lines): that took the
# flood's median loop lag from ~25 ms (4 console events per turn) to ~2.5 ms


class EventsApplied(Message):
    """A batch of (non-console) events was folded into the run state.

    ``history`` is set for the events of a resumed run from before it stopped:
    panels show them, but nothing calls for attention twice.
    """

    def __init__(self, events: list[ev.Event], history: bool = False) -> None:
        super().__init__()
        self.events = events
        self.history = history


class ConsoleLinesReady(Message):
    """New console lines of the visible agent, to write in one go."""

    def __init__(self, agent: str, lines: list[str], missed: int = 0) -> None:
        super().__init__()
        self.agent = agent
        self.lines = lines
        self.missed = missed  # lines that left the scrollback before they were shown


class RunEnded(Message):
    """The bus closed: the run is over (its final state is in the run state)."""


class EngineBridge:
    def __init__(self, bus: EventBus, state: RunState, consoles: ConsoleBuffers,
                 target: MessagePump, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.state = state
        self.consoles = consoles
        self.target = target
        self.flush_interval = flush_interval
        self._sub = bus.subscribe(maxsize=QUEUE_SIZE)  # before the engine starts: miss nothing
        self.visible_agent: str | None = None
        self.visible_seen = 0  # console lines of the visible agent already posted
        self.lines_posted = 0
        self.on_batch: Callable[[int], None] | None = None  # benchmark hook

    def show(self, agent: str | None) -> list[str]:
        """Make ``agent`` the visible console; returns its scrollback to draw at once."""
        self.visible_agent = agent
        if agent is None:
            self.visible_seen = 0
            return []
        console = self.consoles.of(agent)
        self.visible_seen = console.total
        return list(console.lines)

    async def run(self) -> None:
        flusher = asyncio.create_task(self._flush_loop(), name="tui-console-flush")
        try:
            while True:
                event = await self._sub.get()
                if event is None:
                    break
                batch = [event, *self._sub.get_batch(SLICE - 1)]
                start = 0
                for i, item in enumerate(batch):
                    if item.type in BUFFERED:
                        self._apply(batch[start:i + 1])
                        start = i + 1
                        await asyncio.sleep(0)  # rendering and input between big chunks
                if start < len(batch):
                    self._apply(batch[start:])
                    await asyncio.sleep(0)
        finally:
            flusher.cancel()
            self._sub.close()
            self.flush()
            self.target.post_message(RunEnded())

    def fold_history(self, events: list[ev.Event]) -> None:
        """Fold a resumed run's stored events before it goes live (one message)."""
        self._apply(events, history=True)

    def _apply(self, batch: list[ev.Event], history: bool = False) -> None:
        changed: list[ev.Event] = []
        console_apply = self.consoles.apply
        state_apply = self.state.apply
        for event in batch:
            if event.type in BUFFERED:
                console_apply(event)
            else:
                state_apply(event)
                changed.append(event)
                if event.type == ev.TOOL_RESULT and event.data.get("is_error"):
                    console_apply(event)  # the reason a call was refused, in the console
        if changed:
            self.target.post_message(EventsApplied(changed, history))
        if self.on_batch is not None:
            self.on_batch(len(batch))

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self.flush()

    def flush(self) -> None:
        agent = self.visible_agent
        if agent is None:
            return
        seen = self.visible_seen
        lines, self.visible_seen = self.consoles.new_since(agent, seen)
        if lines:
            self.lines_posted += len(lines)
            missed = self.visible_seen - seen - len(lines)
            self.target.post_message(ConsoleLinesReady(agent, lines, missed))
