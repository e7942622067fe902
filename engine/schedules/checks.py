"""Checks of `schedule:` that look at more than one field (run by the loader and `check`)."""

from __future__ import annotations

from engine.config import TeamConfig


def schedule_problems(team: TeamConfig) -> list[tuple[int, str, str]]:
    """(agent index, field, what is wrong) for each problem found (-1: the team's)."""
    from engine.budget_period import period_problem

    out: list[tuple[int, str, str]] = []
    if team.budget is not None and team.budget.period is not None:
        problem = period_problem(team.budget.period)
        if problem:
            out.append((-1, "budget.period", problem))
    for i, agent in enumerate(team.agents):
        if agent.budget is not None and agent.budget.period is not None:
            problem = period_problem(agent.budget.period)
            if problem:
                out.append((i, "budget", problem))
        if agent.instructions_on_schedule is not None and agent.schedule is None:
            out.append((i, "instructions_on_schedule",
                        "only applies to an agent with a `schedule:`; add one (e.g. "
                        "`schedule: \"0 9 * * *\"`) or remove this field"))
        if agent.schedule is not None and agent.schedule.overlap == "parallel" and agent.is_scripted:
            out.append((i, "schedule", "`overlap: parallel` delivers a firing to a busy agent as "
                        "a message, and a scripted agent reads no messages; use `skip` or "
                        "`queue_one`"))
    return out
