"""The workflow of one run: the plan phase (planner, checker, the person's approval),
then the tasks (engine/workflow/running.py).

State lives in events: a `workflow` event after each phase change (with the plan under
review and the agents proposed), a `task` event after each task change.  A resumed run
folds them back (engine/workflow/restore.py) and redoes only what was not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine import interrupts as ik
from engine.workflow import board as b
from engine.workflow import messages
from engine.workflow.plan import PlanError, parse_plan, plan_lines, plan_text
from engine.workflow.running import TaskFlow

if TYPE_CHECKING:
    from engine.run import Engine


class WorkflowError(Exception):
    """A workflow tool used at the wrong moment or by the wrong agent (the tool's error)."""


class Workflow(TaskFlow):
    #: seconds between looks at the clock while the plan waits for the person
    tick = 1.0

    def __init__(self, engine: Engine) -> None:
        assert engine.team.workflow is not None
        self.engine = engine
        self.config = engine.team.workflow
        self.goal = self.config.goal or ""
        self.phase = ""
        self.attempt = 1
        self.plan: list[b.Task] = []  # the plan under check or approval
        self.proposed: list[dict[str, Any]] = []  # agents create_agent proposed (configs)
        self.created: list[dict[str, Any]] = []  # agents approved and started
        self.approval: str | None = None  # the plan_approval interrupt
        self.reason: str | None = None
        self.by_call: str | None = None
        self.tasks: dict[str, b.Task] = {}
        self._background: set[asyncio.Task] = set()
        self._closing = False
        #: one merge into the integration branch at a time (engine/workflow/branches.py)
        self.integration_merges = asyncio.Lock()

    @classmethod
    def of(cls, engine: Engine) -> Workflow | None:
        return cls(engine) if engine.team.workflow is not None else None

    # -- records -----------------------------------------------------------------
    async def _set_phase(self, phase: str, **changes: Any) -> None:
        self.phase = phase
        for key, value in changes.items():
            setattr(self, key, value)
        await self.engine.emit(ev.WORKFLOW, None, **self.record())

    def record(self) -> dict[str, Any]:
        return {"goal": self.goal, "phase": self.phase, "attempt": self.attempt,
                "plan": [t.event_data() for t in self.plan], "proposed_agents": self.proposed,
                "created_agents": self.created, "interrupt": self.approval,
                "reason": self.reason, "by_call": self.by_call}

    def spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.engine.log_exception(None, task.exception())

    # -- lifecycle (hooks in engine/run.py) -----------------------------------------
    async def begin(self) -> None:
        """The agents run: start the plan phase, or go on where a resumed run stopped."""
        if self.engine.resuming:
            from engine.workflow.restore import go_on

            await go_on(self)
            return
        await self._set_phase(b.PLANNING)
        await self._brief_planner()

    async def _brief_planner(self) -> None:
        who = ", ".join(f"{a.id} ({a.type or 'agent'})" for a in self.engine.team.agents)
        goal = (f"Goal: {self.goal}" if self.goal.strip() else "No goal was given: ask the "
                "person what the team should achieve (ask_user) before you plan.")
        text = (f"{goal}\n\nBreak it into tasks with create_tasks (each with an id, "
                f"title, description, acceptance, an assignee or role, an order and "
                f"depends_on). Agents: {who}.")
        if self.config.max_agents:
            text += (f" You may propose up to {self.config.max_agents} more agents with "
                     "create_agent before create_tasks.")
        await messages.send(self.engine, self.config.planner, text, "goal", attempt=1)

    async def settle(self) -> None:
        """Every agent has ended: let QA under way finish, then say how the workflow ends."""
        while not self._closing:  # QA under way (not the person's answers: nobody is left)
            qa = [t for t in self._background if t.get_name().startswith("qa-")]
            if not qa:
                break
            await asyncio.gather(*qa, return_exceptions=True)
        if self.phase in (b.PHASE_DONE, b.PHASE_STOPPED) or self._closing:
            return
        left = [t for t in self.tasks.values() if t.state not in b.FINAL_STATES]
        if self.phase == b.PHASE_RUNNING and not left:
            await self._set_phase(b.PHASE_DONE, reason=None)
            return
        what = (", ".join(f"{t.task_id} ({t.state})" for t in left[:8]) if left
                else f"the plan ({self.phase})")
        await self.stop_workflow(f"every agent has ended with work left: {what}")

    async def close(self) -> None:
        """The run stops: end what runs in the background (QA containers included)."""
        self._closing = True
        tasks = [t for t in self._background if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop_workflow(self, reason: str, stop_run: bool = False) -> None:
        await self._set_phase(b.PHASE_STOPPED, reason=reason)
        await self.engine.emit(ev.NOTICE, level="error", text=f"workflow stopped: {reason}")
        if stop_run:  # not from inside a task the stop cancels
            asyncio.get_running_loop().create_task(self.engine.stop(reason),
                                                   name="workflow-stop")

    # -- the planner ---------------------------------------------------------------
    def assignable(self) -> dict[str, str]:
        """Agent id -> type, of every agent a task may go to (proposed ones included)."""
        out = {a.id: a.type or "" for a in self.engine.team.agents}
        out.update({a["id"]: a.get("type") or "" for a in self.proposed})
        return out

    async def submit_plan(self, agent_id: str, raw: list[Any], call_id: str | None) -> dict:
        if call_id is not None and self.by_call == call_id:  # the same call, resumed
            return {"submitted": True, "tasks": len(self.plan), "attempt": self.attempt}
        if agent_id != self.config.planner:
            raise WorkflowError(f"only the planner ({self.config.planner}) may create tasks")
        if self.phase != b.PLANNING:
            raise WorkflowError(f"the plan is not open for changes now (phase {self.phase}); "
                                "wait for the verdict that comes as a message")
        try:
            tasks = parse_plan(raw, self.assignable())
        except PlanError as exc:
            raise WorkflowError(f"the plan was not accepted: {exc}") from None
        checker = self.config.checker
        if checker:
            await self._set_phase(b.CHECKING, plan=tasks, by_call=call_id)
            await self._send_plan_to_checker()
            nxt = f"the checker {checker} reviews it; its verdict comes to you as a message"
        else:
            await self._set_phase(b.APPROVAL, plan=tasks, by_call=call_id)
            await self._ask_approval()
            nxt = "the person reviews it; the verdict comes to you as a message"
        return {"submitted": True, "tasks": len(tasks), "attempt": self.attempt, "next": nxt}

    async def _send_plan_to_checker(self) -> None:
        text = (f"Check this plan (attempt {self.attempt} of {self.config.max_attempts}) for "
                f"the goal: {self.goal}\n\n{plan_text(self.plan)}\n\nCall validate_plan with "
                "verdict approve or revise, and your feedback.")
        await messages.send(self.engine, self.config.checker or "", text, "check",
                            attempt=self.attempt)

    async def verdict(self, agent_id: str, verdict: str, feedback: str,
                      call_id: str | None) -> dict:
        if call_id is not None and self.by_call == call_id:
            return {"recorded": verdict}
        if agent_id != self.config.checker:
            raise WorkflowError(f"only the checker ({self.config.checker}) may validate the plan")
        if self.phase != b.CHECKING:
            raise WorkflowError(f"there is no plan to check now (phase {self.phase or 'none'})")
        if verdict == "approve":
            await self._set_phase(b.APPROVAL, by_call=call_id)
            await self._ask_approval()
            return {"recorded": "approve", "next": "the plan goes to the person"}
        await self._revise(f"the checker asks for a revision: {feedback}", call_id)
        return {"recorded": "revise", "next": "the planner revises the plan"}

    async def _revise(self, why: str, call_id: str | None) -> None:
        if self.attempt >= self.config.max_attempts:
            await self.stop_workflow(
                f"the plan was revised {self.attempt} times (workflow.max_attempts) without "
                f"being approved; last: {why}", stop_run=True)
            return
        await self._set_phase(b.PLANNING, attempt=self.attempt + 1, by_call=call_id,
                              approval=None)
        await messages.send(self.engine, self.config.planner,
                            f"Revise your plan (attempt {self.attempt} of "
                            f"{self.config.max_attempts}): {why}\nCall create_tasks again "
                            "with the whole revised plan.", "revise", attempt=self.attempt)

    # -- the person's approval ---------------------------------------------------
    async def _ask_approval(self) -> None:
        agents = [{k: a.get(k) for k in ("id", "type", "model", "approval", "tools")}
                  for a in self.proposed]
        prompt = (f"{self.config.planner} proposes {len(self.plan)} tasks"
                  + (f" and {len(agents)} new agents" if agents else "") + f" for: {self.goal}")
        intr = await self.engine.interrupts.raise_(
            self.config.planner, ik.PLAN_APPROVAL, prompt, call_id=None,
            steps=plan_lines(self.plan), tasks=[t.event_data() for t in self.plan],
            new_agents=agents or None, workflow=True)
        self.approval = intr.id
        await self.engine.emit(ev.WORKFLOW, None, **self.record())
        self.spawn(self.await_approval(intr), "workflow-approval")

    async def await_approval(self, intr: ik.Interrupt) -> None:
        queue = self.engine.interrupts
        deadline = intr.created + self.config.approval_seconds
        while intr.pending:
            left = deadline - self.engine.now()
            if left <= 0:
                hours = self.config.approval_seconds / 3600
                text = f"the plan waited {hours:g}h for approval (workflow.approval_timeout)"
                await queue.answer(intr.id, {"withdrawn": True, "expired": True, "text": text})
                await self.stop_workflow(f"{text}: the run stops as expired", stop_run=True)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.wait(intr), min(left, self.tick))
        await self.approval_answered(intr.answer or {})

    async def approval_answered(self, answer: dict[str, Any]) -> None:
        if self.phase != b.APPROVAL or answer.get("withdrawn"):
            return
        if not answer.get("approved"):
            await self._revise(f"the person rejected it: {answer.get('text') or 'no reason given'}",
                               None)
            return
        tasks = self._edited(answer)
        from engine.workflow.agents import start_created

        for config in list(self.proposed):
            await start_created(self, config)
        self.tasks = {t.task_id: t for t in tasks}
        await self._set_phase(b.PHASE_RUNNING, plan=tasks, proposed=[], by_call=None)
        for task in tasks:
            task.max_attempts = self.config.max_attempts
            await self.emit_task(task)
        await messages.send(self.engine, self.config.planner,
                            f"The person approved your plan: {len(tasks)} tasks run now.",
                            "approved", attempt=self.attempt)
        await self.advance()

    def _edited(self, answer: dict[str, Any]) -> list[b.Task]:
        """The plan as approved: `tasks` edited by the person (approve_plan, checked before
        it was recorded), or `steps` that retitle its tasks (`id: title (...)`, one line
        per task, in order)."""
        if isinstance(answer.get("tasks"), list):
            try:
                return parse_plan(answer["tasks"], self.assignable())
            except PlanError:
                return self.plan  # an agent meanwhile gone: the plan as proposed
        steps = answer.get("steps")
        if not isinstance(steps, list) or len(steps) != len(self.plan):
            return self.plan
        for task, line in zip(self.plan, steps, strict=True):
            if line == plan_lines([task])[0]:
                continue
            text = str(line)
            if text.startswith(f"{task.task_id}:"):
                text = text[len(task.task_id) + 1:]
            title = text.rsplit(" (", 1)[0].strip() if text.endswith(")") else text.strip()
            task.title = title or task.title
        return self.plan
