"""Tasks on branches when the team has `repo:` (filled in below as it lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.run import Engine
    from engine.workflow.board import Task
    from engine.workflow.running import TaskFlow


async def cut_branch(flow: TaskFlow, task: Task) -> None:
    return None


async def task_diff(flow: TaskFlow, task: Task) -> str | None:
    return None


async def merge_task(flow: TaskFlow, task: Task) -> str | None:
    return None


async def branch_archive(engine: Engine, task: Task) -> bytes | None:
    return None
