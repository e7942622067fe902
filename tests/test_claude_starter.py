"""The starter team in agents.yaml: valid, all Claude, and clear about a missing key."""

from __future__ import annotations

from pathlib import Path

from engine.brains.claude_errors import api_key_problem
from engine.loader import load_team

ROOT = Path(__file__).resolve().parent.parent


def test_the_starter_team_is_a_valid_claude_team():
    team = load_team(ROOT / "agents.yaml")
    assert team.agent_ids == ["planner", "checker", "coder", "reviewer"]
    assert team.workflow is not None and team.workflow.checker == "checker"
    assert all(not a.is_scripted and a.model.startswith("claude-") for a in team.agents)
    assert team.agent("coder").needs_plan and team.agent("coder").command_approval == "risky"
    assert team.agent("reviewer").approval == "risky"
    assert team.budget is not None and all(a.budget for a in team.agents)
    for a in team.agents:
        assert team.resolve(a.rules_file).is_file()
        assert team.resolve(a.memory_file).is_file()
        assert team.recipients_of(a)  # everybody may talk to someone
    assert api_key_problem(team, env={}).startswith(
        "ANTHROPIC_API_KEY is not set, and the Claude agents (planner, checker, coder, reviewer) "
        "need it")
    assert api_key_problem(team, env={"ANTHROPIC_API_KEY": "sk-ant-x"}) is None
