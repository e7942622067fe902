"""What the person decided in a modal, and carrying it out on the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from engine.run import Engine

Action = Literal["answer", "approve", "reject", "ack", "command"]


@dataclass(frozen=True)
class Decision:
    interrupt_id: str
    action: Action
    text: str = ""
    steps: list[str] | None = None
    #: "command": the headless command that carries it out (engine/service/commands.py),
    #: e.g. {"type": "task", "action": "retry", "task": ID, "text": note}
    command: dict[str, Any] | None = None
    done: str = ""  #: "command": what to say once it is done

    def describe(self, agent: str, what: str = "request") -> str:
        if self.action == "command":
            return self.done or f"Answered {agent}."
        if self.action == "approve":
            return f"Approved {agent}'s {'edited plan' if self.steps else what}."
        if self.action == "reject":
            return f"Rejected {agent}'s {what}" + (f": {self.text}" if self.text else ".")
        if self.action == "ack":
            return f"Acknowledged {agent}'s progress report."
        return f"Answered {agent}."


async def carry_out(engine: Engine, decision: Decision) -> None:
    """Apply a decision; raises engine.run.ControlError with a message to show."""
    if decision.action == "command":  # the engine here, or a run attached over its socket
        await engine.handle_command(decision.command)
    elif decision.action == "answer":
        await engine.answer(decision.interrupt_id, decision.text)
    elif decision.action == "approve":
        await engine.approve(decision.interrupt_id, steps=decision.steps,
                             text=decision.text or None)
    elif decision.action == "reject":
        await engine.reject(decision.interrupt_id, decision.text)
    else:
        await engine.acknowledge(decision.interrupt_id)
