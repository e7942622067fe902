"""A resumed run's workflow: folded back from its `workflow`, `task` and `message`
events, then only what was not recorded is done again (a message never twice, a task
never run twice; a QA run that was under way runs again on a fresh copy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.workflow import board as b
from engine.workflow import messages
from engine.workflow.answers import TASK_BLOCKED

if TYPE_CHECKING:
    from engine.interrupts import Interrupt
    from engine.workflow.flow import Workflow


async def go_on(wf: Workflow) -> None:
    engine = wf.engine
    record: dict[str, Any] | None = None
    tasks: list[dict[str, Any]] = []
    sent: set[tuple[str, str | None, int | None]] = set()
    for row in await engine.store.events(engine.run_id):
        e = ev.Event.from_row(*row)
        if e.type == ev.WORKFLOW:
            record = e.data
        elif e.type == ev.TASK:
            tasks.append(e.data)
        elif e.type == ev.MESSAGE and e.data.get("from") == messages.SENDER:
            sent.add((e.data.get("purpose", ""), e.data.get("task_id"), e.data.get("attempt")))
    if record is None:  # stopped before the workflow began
        await wf._set_phase(b.PLANNING)
        await wf._brief_planner()
        return
    wf.goal = record.get("goal") or wf.goal
    wf.phase = record.get("phase") or b.PLANNING
    wf.attempt = int(record.get("attempt") or 1)
    wf.plan = [b.Task.from_event(t) for t in record.get("plan") or []]
    wf.proposed = list(record.get("proposed_agents") or [])
    wf.created = list(record.get("created_agents") or [])
    wf.approval = record.get("interrupt")
    wf.reason = record.get("reason")
    wf.by_call = record.get("by_call")
    wf.tasks = {t.task_id: t for t in b.fold_tasks(tasks).values()}
    await _go_on_phase(wf, sent)


async def _go_on_phase(wf: Workflow, sent: set) -> None:
    if wf.phase == b.PLANNING and ("goal", None, 1) not in sent and wf.attempt == 1:
        await wf._brief_planner()
    elif wf.phase == b.PLANNING and ("revise", None, wf.attempt) not in sent and wf.attempt > 1:
        await messages.send(wf.engine, wf.config.planner, "Revise your plan and call "
                            "create_tasks again with the whole revised plan.", "revise",
                            attempt=wf.attempt)
    elif wf.phase == b.CHECKING and ("check", None, wf.attempt) not in sent:
        await wf._send_plan_to_checker()
    elif wf.phase == b.APPROVAL:
        intr, answer = _interrupt(wf, wf.approval)
        if intr is not None:
            wf.spawn(wf.await_approval(intr), "workflow-approval")
        elif answer is not None:
            await wf.approval_answered(answer)
        else:
            await wf._ask_approval()
    elif wf.phase == b.PHASE_RUNNING:
        for task in list(wf.tasks.values()):
            await _go_on_task(wf, task, sent)
        await wf.advance()


async def _go_on_task(wf: Workflow, task: b.Task, sent: set) -> None:
    if task.state == b.RUNNING and ("task", task.task_id, task.attempt) not in sent:
        await wf.send_task(task)
    elif task.state == b.REVIEW and ("review", task.task_id, task.attempt) not in sent:
        await wf.send_review(task)
    elif task.state == b.QA:
        wf.spawn(wf.run_qa(task), f"qa-{task.task_id}")
    elif task.state == b.BLOCKED:
        if not task.interrupt:  # stopped between asking and recording the question
            task.interrupt = next((i.id for i in wf.engine.interrupts.pending()
                                   if i.kind == TASK_BLOCKED and i.extra.get("task_id") == task.task_id
                                   and i.extra.get("attempt") == task.attempt), None)
        intr, answer = _interrupt(wf, task.interrupt)
        if intr is not None:
            wf.spawn(wf.await_blocked(task, intr), f"blocked-{task.task_id}")
        elif answer is not None and not answer.get("withdrawn"):
            await wf.decide(task, answer)
        elif answer is None:
            await wf.ask_blocked(task)


def _interrupt(wf: Workflow, intr_id: str | None) -> tuple[Interrupt | None, dict | None]:
    """The pending interrupt ``intr_id``, or else its recorded answer."""
    if not intr_id:
        return None, None
    pending = wf.engine.interrupts.items.get(intr_id)
    if pending is not None:
        return pending, None
    state = wf.engine.pending_resume
    for intr in state.interrupts if state is not None else []:
        if intr.id == intr_id:
            return None, intr.answer
    return None, None
