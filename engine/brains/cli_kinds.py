"""Which CLI brain an agent's `brain:` names."""

from __future__ import annotations

from engine.brains.base import Brain
from engine.config import AgentConfig, TeamConfig


def make_cli_brain(agent: AgentConfig, team: TeamConfig) -> Brain:
    if agent.brain == "claude-code":
        from engine.brains.claude_code import ClaudeCodeBrain

        return ClaudeCodeBrain(agent, team)
    if agent.brain == "codex" and agent.command_approval != "never":
        from engine.brains.codex_app import CodexAppBrain  # its approvals in the queue

        return CodexAppBrain(agent, team)
    if agent.brain == "codex":
        from engine.brains.codex import CodexBrain

        return CodexBrain(agent, team)
    from engine.brains.command_brain import CommandBrain

    return CommandBrain(agent, team)
