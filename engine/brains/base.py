"""The brain protocol: what decides an agent's next tool calls.

The agent loop (engine/agent.py) is the same for every brain:

    calls = await brain.next_calls(results_of_previous_calls)
    (run each call through the engine's tools, collect ToolResults)
    ... repeat until next_calls returns [] or a `finish` call ends the agent.

A brain never touches sandboxes, the store or the bus directly; it gets a
:class:`BrainContext` with what it may see and do.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a model sees it: name, description and JSON Schema of arguments."""

    name: str
    description: str
    input_schema: dict[str, Any]

    def to_anthropic(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
        }


@dataclass(slots=True)  # built several times per step: slots, not frozen (4x cheaper)
class ToolCall:
    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)  # built several times per step: slots, not frozen (4x cheaper)
class ToolResult:
    call_id: str
    name: str
    content: Any  # JSON-serialisable (dict, list, str, ...)
    is_error: bool = False
    #: True when the process died while this call ran and it was not repeated
    interrupted: bool = False

    def as_text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, ensure_ascii=False)


@dataclass(slots=True)  # built several times per step: slots, not frozen (4x cheaper)
class InboxMessage:
    id: str
    sender: str
    text: str
    kind: str  # request | reply | notify | broadcast
    reply_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "from": self.sender, "text": self.text, "kind": self.kind,
                "reply_to": self.reply_to}


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str = ""


@dataclass(frozen=True)
class Peer:
    id: str
    type: str
    description: str


class BrainContext(Protocol):
    """What the engine offers a brain (implemented by engine.agent.AgentRuntime)."""

    agent_id: str
    config: Any  # engine.config.AgentConfig
    tools: list[ToolSpec]  # already filtered by the agent's `tools` allow-list
    roster: list[Peer]  # every agent of the team
    allowed_recipients: list[str]  # who send_message may reach
    memory_text: str  # contents of memory_file at start ("" if none)
    rules_text: str  # contents of rules_file ("" if none)

    async def emit(self, type: str, **data: Any) -> None:
        """Record and publish an event for this agent (e.g. ``assistant_text``)."""

    def take_messages(self) -> list[InboxMessage]:
        """Remove and return the oldest inbox messages, as many as a turn may hold."""

    @property
    def messages_waiting(self) -> int:
        """Messages left in the inbox after take_messages."""

    async def record_usage(self, usage: Usage, cost: float | None = None) -> None:
        """Account tokens/cost; may block while the agent is paused on a budget interrupt.
        ``cost``: what a CLI reported, used only when the model has no price here."""

    async def ask_person(self, kind: str, prompt: str, activity: str,
                         **extra: Any) -> dict[str, Any]:
        """Raise a blocking interrupt (e.g. an API error: retry or stop) and wait for it."""

    async def save_conversation(self, messages: list[dict[str, Any]]) -> None: ...

    async def load_conversation(self) -> list[dict[str, Any]] | None: ...


class BrainError(Exception):
    """The brain cannot go on (bad key, bad request, ...): one clear sentence."""


class Brain(abc.ABC):
    async def start(self, ctx: BrainContext) -> None:
        self.ctx = ctx

    @abc.abstractmethod
    async def next_calls(self, results: list[ToolResult]) -> list[ToolCall]:
        """The next tool calls given the results of the previous ones; [] means done."""

    def new_firing(self, firing: int, start_at: int = 0) -> None:
        """A scheduled agent is woken for ``firing`` (engine/schedules); ``start_at`` calls
        of it were already made before a restart. A brain that plays a fixed list
        starts it over; a conversation just goes on (the firing comes as a message)."""
        return None

    async def close(self) -> None:
        return None


BrainFactory = Callable[[Any], Awaitable[Brain]]
