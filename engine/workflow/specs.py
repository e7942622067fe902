"""The workflow's tools as a model sees them (name, description, JSON Schema).

Registered into engine.tools.TOOL_SPECS; the handlers are in engine/workflow/tools.py.
"""

from __future__ import annotations

from engine.brains.base import ToolSpec

_STR = {"type": "string"}
_TASK = {
    "type": "object",
    "properties": {
        "id": {**_STR, "description": "A short unique id, e.g. `api` or `t1`."},
        "title": _STR,
        "description": _STR,
        "assignee": {**_STR, "description": "The agent id that does it."},
        "role": {**_STR, "description": "Instead of assignee: an agent type (coder, ...)."},
        "order": {"type": "integer", "description": "Tasks of a lower order finish first; "
                                                    "tasks of the same order may run in parallel."},
        "depends_on": {"type": "array", "items": _STR,
                       "description": "Ids of tasks that must be done before this one starts."},
        "acceptance": {**_STR, "description": "What done means (the reviewer checks it)."},
    },
    "required": ["id", "title", "description"],
    "additionalProperties": False,
}


def _obj(props: dict, required: list[str]) -> dict:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


WORKFLOW_SPECS = [
    ToolSpec("create_tasks",
             "Planner: propose the plan for the goal as tasks. The checker (if any) and then "
             "the person review it; their verdict comes to you as a message. A plan with an "
             "unknown assignee or role, a cycle in depends_on or a duplicate id is refused.",
             _obj({"tasks": {"type": "array", "items": _TASK, "minItems": 1}}, ["tasks"])),
    ToolSpec("validate_plan",
             "Checker: your verdict on the plan you received: `approve` sends it to the "
             "person, `revise` sends your feedback back to the planner.",
             _obj({"verdict": {"type": "string", "enum": ["approve", "revise"]},
                   "feedback": _STR}, ["verdict", "feedback"])),
    ToolSpec("create_agent",
             "Planner: propose a specialised agent for the plan (its own sandbox). It starts "
             "only once the person approves the plan, with no more rights than yours.",
             _obj({"id": _STR, "role": _STR, "instructions": _STR, "model": _STR,
                   "approval": _STR, "tools": {"type": "array", "items": _STR}},
                  ["id", "role", "instructions"])),
    ToolSpec("submit_task",
             "Say that your task is done, with a short summary; it goes to review and QA, "
             "and any feedback comes back to you as a message.",
             _obj({"task_id": _STR, "summary": _STR}, ["task_id", "summary"])),
    ToolSpec("review_task",
             "Reviewer: your verdict on a submitted task: `approve` sends it to QA, "
             "`changes` sends your feedback to its assignee as a new attempt.",
             _obj({"task_id": _STR, "verdict": {"type": "string", "enum": ["approve", "changes"]},
                   "feedback": _STR}, ["task_id", "verdict", "feedback"])),
]
WORKFLOW_TOOLS = frozenset(spec.name for spec in WORKFLOW_SPECS)
