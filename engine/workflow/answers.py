"""The person's answers on a blocked task (`task_blocked` interrupts, `task` commands).

An answer is a choice: `retry` (optionally with a note for the assignee), `reassign` to
another agent, `skip` the task, or `cancel` the run's tasks.  As text: `retry: note`,
`reassign AGENT`, `skip`, `cancel`; or as fields `choice`, `agent`, `text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.run import Engine

TASK_BLOCKED = "task_blocked"
BLOCKED_CHOICES = ("retry", "reassign", "skip", "cancel")


class AnswerError(ValueError):
    """An answer that is not one of the choices (one sentence)."""


def blocked_choice(answer: dict[str, Any]) -> tuple[str, str | None, str]:
    """(choice, agent, note) of an answer; AnswerError when it is none of the choices."""
    text = str(answer.get("text") or "").strip()
    choice = answer.get("choice")
    agent = answer.get("agent")
    note = text
    if not isinstance(choice, str) or not choice:
        head, _, rest = text.partition(" ")
        choice = head.rstrip(":").lower()
        note = rest.strip()
        if choice == "reassign" and not agent:
            agent, _, note = note.partition(" ")
            note = note.strip()
    if choice not in BLOCKED_CHOICES:
        raise AnswerError(f"answer a blocked task with {', '.join(BLOCKED_CHOICES)} "
                          "(e.g. `retry: use the other API`, `reassign coder`, `skip`)")
    if choice == "reassign" and not (isinstance(agent, str) and agent):
        raise AnswerError("reassign needs the agent to give the task to (`reassign AGENT`)")
    return choice, agent if choice == "reassign" else None, note


def check_blocked_answer(engine: Engine, answer: dict[str, Any]) -> None:
    """AnswerError unless ``answer`` can be carried out in this run."""
    if answer.get("withdrawn"):
        return
    _, agent, _ = blocked_choice(answer)
    if agent is not None:
        rt = engine.agents.get(agent)
        if rt is None:
            raise AnswerError(f"unknown agent {agent!r}; agents: {', '.join(engine.agents)}")
        if rt.finished:
            raise AnswerError(f"{agent} has ended; give the task to an agent that still runs")
