"""Brains decide an agent's next tool calls: `scripted`, `claude`, and the CLI brains."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.brains.base import Brain, BrainError

if TYPE_CHECKING:
    from engine.config import AgentConfig, TeamConfig


def make_brain(agent: AgentConfig, team: TeamConfig, start_at: int = 0) -> Brain:
    """Build the brain for ``agent``; ``start_at`` is the scripted resume position."""
    if agent.is_cli:
        from engine.brains.cli_kinds import make_cli_brain

        return make_cli_brain(agent, team)
    if agent.is_scripted:
        from engine.brains.scripted import ScriptedBrain

        return ScriptedBrain(agent.id, list(agent.script or []), start_at)
    try:
        from engine.brains.claude import ClaudeBrain
    except ImportError as exc:  # pragma: no cover - shipped with the package
        raise BrainError(f"the claude brain is not available: {exc}") from None
    return ClaudeBrain(agent, team)
