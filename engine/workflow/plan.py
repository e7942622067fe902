"""A planner's tasks (create_tasks) checked before anyone sees them.

Every problem is a PlanError naming it, which the planner gets as its tool's error and
revises: an unknown assignee or role, a duplicate or malformed id, a dependency on a
task that is not in the plan, a cycle, a task that depends on one of a higher order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.workflow.board import Task

TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MAX_TASKS = 500
MAX_TEXT = 20_000


class PlanError(Exception):
    """A plan that cannot be accepted: one sentence for the planner."""


def parse_plan(raw: list[Any], agents: Mapping[str, str]) -> list[Task]:
    """The tasks of a plan; ``agents`` maps every agent id that may be assigned to its type."""
    if not raw:
        raise PlanError("the plan has no tasks; give at least one")
    if len(raw) > MAX_TASKS:
        raise PlanError(f"the plan has {len(raw)} tasks; at most {MAX_TASKS}")
    tasks: list[Task] = []
    seen: set[str] = set()
    load: dict[str, int] = {}
    for n, item in enumerate(raw, 1):
        task = _task(n, item, agents, load)
        if task.task_id in seen:
            raise PlanError(f"duplicate task id {task.task_id!r}; every task needs its own id")
        seen.add(task.task_id)
        tasks.append(task)
    by_id = {t.task_id: t for t in tasks}
    for task in tasks:
        for dep in task.depends_on:
            if dep not in by_id:
                raise PlanError(f"task {task.task_id!r} depends on {dep!r}, which is not in "
                                f"the plan; tasks: {', '.join(by_id)}")
            if by_id[dep].order > task.order:
                raise PlanError(f"task {task.task_id!r} (order {task.order}) depends on "
                                f"{dep!r} of a later order ({by_id[dep].order}); it could "
                                "never start")
    cycle = find_cycle(tasks)
    if cycle:
        raise PlanError(f"the tasks' depends_on form a cycle: {' -> '.join(cycle)}; "
                        "remove one of these dependencies")
    return tasks


def _task(n: int, item: Any, agents: Mapping[str, str], load: dict[str, int]) -> Task:
    if not isinstance(item, dict):
        raise PlanError(f"task #{n} must be an object with id, title and description")
    task_id = item.get("id")
    if not isinstance(task_id, str) or not TASK_ID.match(task_id):
        raise PlanError(f"task #{n} has a bad id {task_id!r}: use letters, digits, `.`, `-` "
                        "or `_`, starting with a letter or digit, at most 40 characters")
    texts = {}
    for key in ("title", "description", "acceptance", "assignee", "role"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise PlanError(f"task {task_id!r}: {key} must be a text")
        if value is not None and len(value) > MAX_TEXT:
            raise PlanError(f"task {task_id!r}: {key} is longer than {MAX_TEXT:,} characters")
        texts[key] = value
    if not (texts["title"] or "").strip():
        raise PlanError(f"task {task_id!r} has no title")
    order = item.get("order", 0)
    if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order <= 10_000:
        raise PlanError(f"task {task_id!r}: order must be a whole number from 0 to 10000")
    deps = item.get("depends_on") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise PlanError(f"task {task_id!r}: depends_on must be a list of task ids")
    assignee = _assignee(task_id, texts["assignee"], texts["role"], agents, load)
    load[assignee] = load.get(assignee, 0) + 1
    return Task(task_id, texts["title"].strip(), texts["description"] or "", assignee, order,
                list(dict.fromkeys(deps)), texts["acceptance"] or "")


def _assignee(task_id: str, assignee: str | None, role: str | None,
              agents: Mapping[str, str], load: dict[str, int]) -> str:
    if assignee:
        if assignee not in agents:
            raise PlanError(f"task {task_id!r}: unknown assignee {assignee!r}; agents: "
                            f"{', '.join(agents)}")
        return assignee
    if role:
        fits = [a for a, kind in agents.items() if kind == role]
        if not fits:
            roles = sorted({k for k in agents.values() if k})
            raise PlanError(f"task {task_id!r}: no agent has the role {role!r}; roles: "
                            f"{', '.join(roles) or 'none'}")
        return min(fits, key=lambda a: load.get(a, 0))  # the least loaded of them
    raise PlanError(f"task {task_id!r} needs an assignee (an agent id) or a role")


def find_cycle(tasks: list[Task]) -> list[str]:
    """A dependency cycle as a list of ids (first id repeated at the end), or []."""
    deps = {t.task_id: t.depends_on for t in tasks}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in deps.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for task in tasks:
        if task.task_id not in state:
            found = visit(task.task_id)
            if found:
                return found
    return []


def plan_lines(tasks: list[Task]) -> list[str]:
    """One line per task, for the person's approval and the checker's message."""
    out = []
    for t in tasks:
        after = f", after {', '.join(t.depends_on)}" if t.depends_on else ""
        out.append(f"{t.task_id}: {t.title} ({t.assignee}, order {t.order}{after})")
    return out


def plan_text(tasks: list[Task]) -> str:
    parts = []
    for t in tasks:
        parts.append(f"- {plan_lines([t])[0]}\n  {t.description}"
                     + (f"\n  acceptance: {t.acceptance}" if t.acceptance else ""))
    return "\n".join(parts)
