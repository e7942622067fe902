"""Helpers for the workflow tests: small scripted teams with a `workflow:`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import events as ev
from engine.config import TeamConfig
from tests.engine_support import make_team, step


def workflow_team(tmp_path: Path, agents: list[dict[str, Any]], **workflow: Any) -> TeamConfig:
    return make_team(tmp_path, agents, workflow={"goal": "ship it", "planner": "planner",
                                                 **workflow})


def wait(timeout: float = 60) -> dict[str, Any]:
    return step("wait_for_message", timeout=timeout)


def one_task(task_id: str = "t1", assignee: str = "coder", **more: Any) -> dict[str, Any]:
    return {"id": task_id, "title": f"do {task_id}", "description": "it", "assignee": assignee,
            **more}


def planner(*tasks: dict[str, Any], extra: list | None = None) -> dict[str, Any]:
    return {"id": "planner", "type": "planner",
            "script": [wait(), *(extra or []), step("create_tasks", tasks=list(tasks)),
                       wait(), step("finish", summary="planned")]}


def task_states(watcher, task_id: str) -> list[tuple[str, int]]:
    return [(e.data["state"], e.data["attempt"]) for e in watcher.events
            if e.type == ev.TASK and e.data["task_id"] == task_id]


def last_task(watcher, task_id: str) -> dict[str, Any]:
    return [e.data for e in watcher.events if e.type == ev.TASK
            and e.data["task_id"] == task_id][-1]


def errors(watcher, agent: str) -> list[str]:
    return [r["result"]["error"] for r in watcher.results(agent) if r["is_error"]]
