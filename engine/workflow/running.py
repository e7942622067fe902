"""The tasks of an approved plan: todo -> running -> review -> qa -> done.

A task starts when every task of a lower order and every task it depends on is done
(or skipped) and its assignee has no other task under way; tasks ready together run in
parallel.  A review asking for changes or a failed QA run starts the next attempt with
the feedback; past `max_attempts` the task is blocked and a `task_blocked` interrupt
asks the person: retry (with a note), reassign, skip, or cancel the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine import interrupts as ik
from engine.workflow import board as b
from engine.workflow import messages
from engine.workflow.answers import BLOCKED_CHOICES, TASK_BLOCKED, blocked_choice

if TYPE_CHECKING:
    import asyncio

    from engine.run import Engine
    from engine.workflow.settings import WorkflowConfig

#: a task in one of these states keeps its assignee busy
ACTIVE = frozenset({b.RUNNING, b.REVIEW, b.QA})


class TaskFlow:
    """The task half of engine.workflow.flow.Workflow (a mixin: it shares its state)."""

    engine: Engine
    config: WorkflowConfig
    tasks: dict[str, b.Task]
    phase: str
    integration_merges: asyncio.Lock

    async def _set_phase(self, phase: str, **changes: Any) -> None: ...
    def spawn(self, coro: Any, name: str) -> None: ...
    async def stop_workflow(self, reason: str, stop_run: bool = False) -> None: ...

    async def emit_task(self, task: b.Task, call_id: str | None = None) -> None:
        task.by_call = call_id
        await self.engine.emit(ev.TASK, None, **task.event_data())

    def task(self, task_id: str) -> b.Task:
        task = self.tasks.get(task_id)
        if task is None:
            from engine.workflow.flow import WorkflowError

            known = ", ".join(self.tasks) or "none yet (no plan is approved)"
            raise WorkflowError(f"no task {task_id!r}; tasks: {known}")
        return task

    # -- scheduling ---------------------------------------------------------------
    def _ready(self, task: b.Task, open_order: float) -> bool:
        """Every task of a lower order (``open_order``: the lowest order with a task not
        yet done or skipped) and every task it depends on is done or skipped."""
        return task.order <= open_order and all(
            self.tasks[d].state in b.SATISFIED_STATES for d in task.depends_on if d in self.tasks)

    def _alive(self, agent_id: str | None) -> bool:
        rt = self.engine.agents.get(agent_id or "")
        return rt is not None and not rt.finished

    async def advance(self) -> None:
        """Start every task that can start; end the workflow when every task is final."""
        if self.phase != b.PHASE_RUNNING:
            return
        busy: set[str | None] = set()
        todo: list[b.Task] = []
        open_order: float = float("inf")
        final = True
        for t in self.tasks.values():  # one pass: this runs after every transition
            state = t.state
            if state in ACTIVE:
                busy.add(t.assignee)
            elif state == b.TODO:
                todo.append(t)
            if state not in b.SATISFIED_STATES and t.order < open_order:
                open_order = t.order
            final = final and state in b.FINAL_STATES
        for task in sorted(todo, key=lambda t: t.order):
            if task.state == b.TODO and task.assignee not in busy and self._ready(task, open_order):
                busy.add(task.assignee)
                if not self._alive(task.assignee):
                    await self.block(task, f"{task.assignee} has ended and cannot do it",
                                     then_advance=False)
                    continue
                await self._start(task)
        if final and not todo:
            await self._set_phase(b.PHASE_DONE, reason=None)
            for agent_id, rt in self.engine.agents.items():
                if not rt.finished and not rt.config.is_scripted:
                    await messages.send(self.engine, agent_id, "Every task of the plan is "
                                        "done: finish your work.", "done")

    async def _start(self, task: b.Task, feedback: str | None = None) -> None:
        task.state, task.feedback, task.reason, task.interrupt = b.RUNNING, feedback, None, None
        if self.engine.workspaces is not None:
            from engine.workflow.branches import cut_branch

            await cut_branch(self, task)
        await self.emit_task(task)
        await self.send_task(task)

    async def send_task(self, task: b.Task) -> None:
        await messages.send(self.engine, task.assignee or "", messages.task_text(task, self.config.qa),
                            "task", task_id=task.task_id, attempt=task.attempt)

    # -- the assignee and the reviewer --------------------------------------------
    async def submit(self, agent_id: str, task_id: str, summary: str,
                     call_id: str | None) -> dict:
        from engine.workflow.flow import WorkflowError

        task = self.task(task_id)
        if call_id is not None and task.by_call == call_id:
            return {"submitted": task_id, "attempt": task.attempt}
        if task.assignee != agent_id:
            raise WorkflowError(f"task {task_id} is {task.assignee}'s, not yours")
        if task.state != b.RUNNING:
            raise WorkflowError(f"task {task_id} is {task.state}, not running: nothing to submit")
        task.summary = summary
        diff = None
        if self.engine.workspaces is not None:  # the task branch is what was submitted
            from engine.workflow.branches import task_diff

            diff = await task_diff(self, task)
        reviewer = self.config.reviewer
        if reviewer:
            task.state, task.feedback, task.reviewer = b.REVIEW, None, reviewer
            await self.emit_task(task, call_id)
            await self.send_review(task, diff)
            nxt = f"{reviewer} reviews it; the verdict comes to you as a message if changes are needed"
        else:
            await self._after_review(task, None, call_id)
            nxt = "QA runs on it" if self.config.qa else "it is done"
        return {"submitted": task_id, "attempt": task.attempt, "next": nxt}

    async def send_review(self, task: b.Task, diff: str | None = None) -> None:
        if diff is None and self.engine.workspaces is not None:
            from engine.workflow.branches import task_diff

            diff = await task_diff(self, task)
        await messages.send(self.engine, self.config.reviewer or "",
                            messages.review_text(task, diff), "review",
                            task_id=task.task_id, attempt=task.attempt)

    async def review(self, agent_id: str, task_id: str, verdict: str, feedback: str,
                     call_id: str | None) -> dict:
        from engine.workflow.flow import WorkflowError

        task = self.task(task_id)
        if call_id is not None and task.by_call == call_id:
            return {"recorded": verdict, "task": task_id}
        if agent_id != self.config.reviewer:
            raise WorkflowError(f"only the reviewer ({self.config.reviewer}) may review tasks")
        if task.state != b.REVIEW:
            raise WorkflowError(f"task {task_id} is {task.state}, not waiting for review")
        if verdict == "changes":
            await self.failed(task, f"review: {feedback}", call_id)
        else:
            await self._after_review(task, feedback or None, call_id)
        return {"recorded": verdict, "task": task_id}

    async def _after_review(self, task: b.Task, feedback: str | None, call_id: str | None) -> None:
        if not self.config.qa:
            await self.finish_task(task, feedback, call_id)
            return
        task.state, task.feedback = b.QA, feedback
        await self.emit_task(task, call_id)
        self.spawn(self.run_qa(task), f"qa-{task.task_id}")

    async def run_qa(self, task: b.Task) -> None:
        from engine.workflow.qa import run_qa

        attempt = task.attempt
        try:
            code, output = await run_qa(self.engine, task, self.config.qa or "",
                                        self.config.qa_timeout)
        except Exception as exc:  # noqa: BLE001 - never a task left in `qa` for ever
            code, output = 1, f"agentorch: QA could not finish: {type(exc).__name__}: {exc}"
        if task.state != b.QA or task.attempt != attempt:  # the person acted meanwhile
            return
        task.qa_output = b.qa_tail(output)
        if code == 0:
            await self.finish_task(task, None, None)
        else:
            await self.failed(task, f"QA failed (exit {code})", None)

    async def finish_task(self, task: b.Task, feedback: str | None, call_id: str | None) -> None:
        if self.engine.workspaces is not None:
            from engine.workflow.branches import merge_task

            conflict = await merge_task(self, task)
            if conflict:
                await self.block(task, conflict)
                return
        task.state, task.feedback = b.DONE, feedback
        await self.emit_task(task, call_id)
        await self.advance()

    async def failed(self, task: b.Task, feedback: str, call_id: str | None) -> None:
        if task.attempt >= task.max_attempts:
            await self.block(task, f"failed {task.attempt} attempts (workflow.max_attempts); "
                                   f"last: {feedback}", feedback, call_id)
            return
        if not self._alive(task.assignee):
            await self.block(task, f"{task.assignee} has ended and cannot make another attempt; "
                                   f"last: {feedback}", feedback, call_id)
            return
        task.attempt += 1
        task.state, task.feedback = b.RUNNING, feedback
        await self.emit_task(task, call_id)
        await self.send_task(task)

    # -- blocked: the person decides --------------------------------------------
    async def block(self, task: b.Task, reason: str, feedback: str | None = None,
                    call_id: str | None = None, then_advance: bool = True) -> None:
        task.state, task.reason = b.BLOCKED, reason
        task.feedback = feedback if feedback is not None else task.feedback
        await self.emit_task(task, call_id)
        await self.ask_blocked(task)
        if then_advance:  # its assignee is free for its next task
            await self.advance()

    async def ask_blocked(self, task: b.Task) -> None:
        who = task.assignee if task.assignee in self.engine.agents else self.config.planner
        intr = await self.engine.interrupts.raise_(
            who, TASK_BLOCKED, f"task {task.task_id} ({task.title}) is blocked: {task.reason}",
            call_id=None, options=list(BLOCKED_CHOICES), choices=list(BLOCKED_CHOICES),
            task_id=task.task_id, attempt=task.attempt)
        task.interrupt = intr.id
        await self.emit_task(task)
        self.spawn(self.await_blocked(task, intr), f"blocked-{task.task_id}")

    async def await_blocked(self, task: b.Task, intr: ik.Interrupt) -> None:
        answer = await self.engine.interrupts.wait(intr)
        if task.state == b.BLOCKED and task.interrupt == intr.id and not answer.get("withdrawn"):
            await self.decide(task, answer)

    async def decide(self, task: b.Task, answer: dict[str, Any]) -> None:
        """The person's answer on a blocked (or waiting) task."""
        choice, agent, note = blocked_choice(answer)
        task.interrupt = None
        if choice == "cancel":
            for other in self.tasks.values():
                if other.state not in b.FINAL_STATES:
                    other.state, other.reason = b.CANCELLED, "the run was cancelled by you"
                    await self.emit_task(other)
            await self.stop_workflow("the tasks were cancelled by you", stop_run=True)
            return
        if choice == "skip":
            task.state, task.reason = b.SKIPPED, note or "skipped by you"
            await self.emit_task(task)
        elif choice == "reassign":
            if task.state != b.TODO:
                task.attempt += 1
            task.assignee, task.state = agent, b.TODO
            task.max_attempts = max(task.max_attempts, task.attempt)
            task.feedback, task.reason = note or None, None
            await self.emit_task(task)
        else:  # retry: one more attempt, with the person's note
            task.attempt += 1
            task.max_attempts = max(task.max_attempts, task.attempt)
            if task.assignee in {t.assignee for t in self.tasks.values() if t.state in ACTIVE}:
                task.state, task.feedback = b.TODO, note or task.feedback
                await self.emit_task(task)
            else:
                await self._start(task, note or task.feedback)
        await self.advance()
