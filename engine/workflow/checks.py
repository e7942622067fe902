"""`check` of the `workflow:` section against the team (each problem with its field)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import TeamConfig

#: the tool each role needs
ROLE_TOOLS = {"planner": "create_tasks", "checker": "validate_plan", "reviewer": "review_task"}


def workflow_problems(team: TeamConfig) -> list[tuple[tuple, str]]:
    """(location, message) for every problem of ``team.workflow``."""
    wf = team.workflow
    if wf is None:
        return []
    out: list[tuple[tuple, str]] = []
    ids = team.agent_ids
    for role, tool in ROLE_TOOLS.items():
        agent_id = getattr(wf, role)
        if agent_id is None:
            continue
        if not team.has_agent(agent_id):
            out.append((("workflow", role), f"unknown agent {agent_id!r}; agents: {', '.join(ids)}"))
            continue
        agent = team.agent(agent_id)
        if agent.tools is not None and tool not in agent.tools:
            out.append((("workflow", role), f"{agent_id} is the {role} but its `tools` list "
                        f"lacks {tool}; add it"))
    if wf.checker is not None and wf.checker == wf.planner:
        out.append((("workflow", "checker"), "the checker must not be the planner: a plan is "
                    "checked by someone else"))
    if wf.qa is not None and not wf.qa.strip():
        out.append((("workflow", "qa"), "the QA command is empty; remove `qa:` or give a command"))
    return out


def goal_problem(team: TeamConfig, goal: str | None) -> str:
    """"" when --goal can be used, else one sentence.  (Without any goal the planner is
    told to ask the person for one.)"""
    if goal is not None and team.workflow is None:
        return "--goal needs a team with `workflow:` in its team file"
    if goal is not None and not goal.strip():
        return "--goal is empty; say what the team should achieve"
    return ""
