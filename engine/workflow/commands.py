"""The headless/socket commands of the workflow.

``{"type":"approve_plan","interrupt":ID,"tasks":[...]}`` approves the plan waiting for the
person with its tasks edited (the same fields as create_tasks: retitle, reassign, reorder,
drop a task), checked like the planner's plan.

The command on the task board:
``{"type":"task","action":"retry"|"reassign"|"skip","task":ID,"agent":ID?,"text":...}``.

On a blocked task it answers the task's `task_blocked` interrupt (so it is answered once,
whichever client answers first); on a task still waiting (todo) reassign and skip act at
once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.recording import ControlError
from engine.service.commands import Command, command
from engine.workflow import board as b
from engine.workflow.answers import AnswerError, check_blocked_answer
from engine.workflow.plan import PlanError, parse_plan

if TYPE_CHECKING:
    from engine.run import Engine
    from engine.workflow.flow import Workflow

ACTIONS = ("retry", "reassign", "skip")


def _workflow(engine: Engine) -> Workflow:
    if engine.workflow is None:
        raise ControlError("this team has no workflow (`workflow:` in its team file)")
    return engine.workflow


@command("task")
async def task_command(engine: Engine, cmd: Command) -> None:
    wf = _workflow(engine)
    action = cmd.need("action")
    if action not in ACTIONS:
        raise ControlError(f"unknown task action {action!r}; use {', '.join(ACTIONS)}")
    task = wf.tasks.get(cmd.need("task"))
    if task is None:
        raise ControlError(f"no task {cmd.raw.get('task')!r}; tasks: "
                           f"{', '.join(wf.tasks) or 'none yet'}")
    answer = {"choice": action, "agent": cmd.optional("agent"), "text": cmd.text(), "by": "user"}
    try:
        check_blocked_answer(engine, answer)
    except AnswerError as exc:
        raise ControlError(str(exc)) from None
    if task.state == b.BLOCKED and task.interrupt:
        await engine._answer(task.interrupt, answer, cmd.via)  # noqa: SLF001 - the one way to answer
        return
    if task.state == b.TODO and action in ("reassign", "skip"):
        await wf.decide(task, answer)
        return
    raise ControlError(f"task {task.task_id} is {task.state}: {action} applies to a blocked "
                       "task" + (" or one still to do" if action != "retry" else ""))


@command("approve_plan")
async def approve_plan(engine: Engine, cmd: Command) -> None:
    wf = _workflow(engine)
    interrupt = cmd.need("interrupt")
    if interrupt != wf.approval or wf.phase != b.APPROVAL:
        raise ControlError(f"{interrupt} is not the plan waiting for your approval"
                           + (f" ({wf.approval} is)" if wf.phase == b.APPROVAL else ""))
    tasks = cmd.get("tasks")
    if not isinstance(tasks, list):
        raise ControlError("approve_plan needs `tasks`: the plan's tasks as edited")
    try:
        parse_plan(tasks, wf.assignable())
    except PlanError as exc:
        raise ControlError(f"the edited plan cannot run: {exc}") from None
    await engine._answer(interrupt, {"approved": True, "by": "user", "tasks": tasks},  # noqa: SLF001
                         cmd.via)
