"""`workflow:` in agents.yaml, as a pydantic model (part of the team file's JSON Schema)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `90s`, `15m`, `24h` or `2d`; ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 15m, 24h or 2d")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if not 0 < seconds <= 365 * 86400:
        raise ValueError("a duration must be above 0 and at most 365d")
    return seconds


class WorkflowConfig(BaseModel):
    """The team workflow: a goal becomes tasks that are planned, checked, approved by you,
    run in order (same-ready tasks in parallel), reviewed and tested."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    goal: str | None = None
    """What the team should achieve (or `--goal TEXT` on the command line)."""
    planner: str
    """The agent that breaks the goal into tasks (create_tasks) and may create agents."""
    checker: str | None = None
    """The agent that checks the plan (validate_plan) before you see it."""
    reviewer: str | None = None
    """The agent that reviews each submitted task (review_task)."""
    qa: str | None = None
    """A command run after review in a fresh container on a copy of the task's result
    (the assignee cannot change what runs it); exit 0 passes."""
    qa_timeout: float = Field(default=600, gt=0, le=86_400)
    """Seconds the QA command may run."""
    max_attempts: int = Field(default=3, ge=1, le=100)
    """Attempts per plan and per task; a task failing review or QA this often is blocked."""
    max_agents: int = Field(default=6, ge=0, le=100)
    """How many agents the planner may create at run time (create_agent)."""
    approval_timeout: float | str = "24h"
    """How long the plan waits for your approval (e.g. `30m`, `24h`); then the run stops as expired."""

    @field_validator("approval_timeout")
    @classmethod
    def _duration(cls, v: float | str) -> float | str:
        parse_duration(v)  # kept as written: the recorded team must equal the file
        return v

    @property
    def approval_seconds(self) -> float:
        return parse_duration(self.approval_timeout)
