"""The workflow tools' handlers (specs: engine/workflow/specs.py); registered into
engine.toolbox.HANDLERS.  A misuse is the tool's error, never a crash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.workflow.flow import Workflow


def _workflow(agent: AgentRuntime) -> Workflow:
    from engine.toolbox import ToolError

    wf = getattr(agent.engine, "workflow", None)
    if wf is None:
        raise ToolError("this team has no workflow (`workflow:` in agents.yaml)")
    return wf


async def _call(agent: AgentRuntime, coro_fn, *args: Any) -> dict:
    from engine.toolbox import ToolError
    from engine.workflow.flow import WorkflowError

    wf = _workflow(agent)
    try:
        return await coro_fn(wf, *args)
    except WorkflowError as exc:
        raise ToolError(str(exc)) from None


async def create_tasks(agent: AgentRuntime, tasks: list) -> dict:
    return await _call(agent, lambda wf: wf.submit_plan(agent.agent_id, tasks,
                                                       agent.current_call_id))


async def validate_plan(agent: AgentRuntime, verdict: str, feedback: str) -> dict:
    return await _call(agent, lambda wf: wf.verdict(agent.agent_id, verdict, feedback,
                                                   agent.current_call_id))


async def create_agent(agent: AgentRuntime, id: str, role: str, instructions: str,
                       model: str | None = None, approval: str | None = None,
                       tools: list[str] | None = None) -> dict:
    from engine.workflow.agents import propose_agent

    args = {"id": id, "role": role, "instructions": instructions, "model": model,
            "approval": approval, "tools": tools}
    return await _call(agent, lambda wf: propose_agent(wf, agent.agent_id, args,
                                                       agent.current_call_id))


async def submit_task(agent: AgentRuntime, task_id: str, summary: str) -> dict:
    return await _call(agent, lambda wf: wf.submit(agent.agent_id, task_id, summary,
                                                   agent.current_call_id))


async def review_task(agent: AgentRuntime, task_id: str, verdict: str, feedback: str) -> dict:
    return await _call(agent, lambda wf: wf.review(agent.agent_id, task_id, verdict, feedback,
                                                   agent.current_call_id))


WORKFLOW_HANDLERS = {
    "create_tasks": create_tasks,
    "validate_plan": validate_plan,
    "create_agent": create_agent,
    "submit_task": submit_task,
    "review_task": review_task,
}
