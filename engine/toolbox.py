"""What each tool does.  A tool error is returned to the brain, never raised."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from engine import claims, shared_context
from engine import events as ev
from engine import interrupts as ik
from engine.agent import AgentFinished
from engine.approval_gate import command_request, remember_write, write_request
from engine.brains.base import ToolCall, ToolResult
from engine.messaging import ALL, REPLY, REQUEST, MessageError
from engine.timeouts import within
from engine.tools import TOOL_SPECS, check_args
from engine.workflow.tools import WORKFLOW_HANDLERS
from memory.files import MemoryEntryError, append_memory
from sandboxes import SandboxError

if TYPE_CHECKING:
    from engine.agent import AgentRuntime

DEFAULT_COMMAND_TIMEOUT = 120.0
DEFAULT_REPLY_TIMEOUT = 300.0
DEFAULT_WAIT_TIMEOUT = 300.0


class ToolError(Exception):
    """Becomes an error tool result with this text."""


async def execute(agent: AgentRuntime, call: ToolCall) -> ToolResult:
    def error(text: str) -> ToolResult:
        return ToolResult(call.id, call.name, {"error": text}, is_error=True)

    spec = TOOL_SPECS.get(call.name)
    if spec is None or call.name not in agent.allowed_tool_names:
        allowed = ", ".join(agent.config.allowed_tools())
        return error(f"tool {call.name!r} is not available to {agent.agent_id}; tools: {allowed}")
    problem = check_args(spec, call.args)
    if problem:
        return error(problem)
    if not agent.plan_approved and call.name not in PLAN_FREE_TOOLS:
        return error(f"no plan of yours is approved (approval: plan), so {call.name} is "
                     "refused: call propose_plan first and wait for the person's approval")
    try:
        content = await HANDLERS[call.name](agent, **call.args)
    except (ToolError, MessageError, SandboxError) as exc:
        return error(str(exc))
    return ToolResult(call.id, call.name, content)


async def run_command(agent: AgentRuntime, command: str, timeout: float | None = None) -> dict:
    from engine.run import RunAborted
    if not command.strip():
        raise ToolError("the command is empty")
    request = await command_request(agent, command)
    if request:
        await _approval(agent, f"approve command: {command[:60]}",
                        f"{agent.agent_id} wants to run: {command}", "command", request)
    ceiling = float(agent.engine.team.resource_of(agent.config, "command_timeout",
                                                  DEFAULT_COMMAND_TIMEOUT))
    limit = min(float(timeout), ceiling) if timeout else ceiling  # the team's is a ceiling
    await agent.set_status(ev.RUNNING, f"$ {command[:80]}")
    await agent.emit(ev.CONSOLE, kind="command", text=command)
    await agent.engine.durable()  # recorded as started before it starts: never run twice

    async def on_output(chunk: str) -> None:
        try:
            await agent.emit(ev.CONSOLE, kind="output", text=chunk)
        except RunAborted:  # keep reading: the engine is stopping the command
            pass

    result = await agent.sandbox.exec(command, limit, on_output)
    await agent.emit(ev.CONSOLE, kind="exit", exit_code=result.exit_code,
                     timed_out=result.timed_out, truncated=result.truncated)
    await _check_disk(agent)
    return result.as_dict()


async def read_file(agent: AgentRuntime, path: str) -> dict:
    try:
        content = await agent.sandbox.read_file(path)
    except FileNotFoundError:
        raise ToolError(f"no file {path!r} in the workspace") from None
    except IsADirectoryError:
        raise ToolError(f"{path!r} is a directory") from None
    except OSError as exc:
        raise ToolError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    return {"path": path, "content": content}


async def write_file(agent: AgentRuntime, path: str, content: str) -> dict:
    request = await write_request(agent, path, content)
    if request:
        await _approval(agent, f"approve write: {path[:60]}",
                        f"{agent.agent_id} wants to write: {path}", "write", request)
    try:
        await agent.sandbox.write_file(path, content)
        await _check_disk(agent)
    except OSError as exc:
        raise ToolError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    remember_write(agent, path)
    return {"path": path, "bytes": len(content.encode())}


async def send_message(agent: AgentRuntime, to: str, text: str, wait_reply: bool = False) -> dict:
    post = agent.engine.post
    if wait_reply and to == ALL:
        raise ToolError("wait_reply is not possible with a broadcast; send to one agent")
    if wait_reply and agent.recovered_message is None:
        target = agent.engine.agents.get(to)
        if target is not None and target.finished:
            raise ToolError(f"{ev.ended_text(to, target.status)} and cannot reply")
    env = await _send(agent, to, text, REQUEST if wait_reply else "notify")
    if not wait_reply:
        return {"id": env.id, "delivered_to": list(env.recipients)}
    fut = post.expect_reply(agent.agent_id, env.id)
    limit = agent.config.reply_timeout or DEFAULT_REPLY_TIMEOUT
    await agent.set_status(ev.WAITING_REPLY, f"waiting for reply from {to}")
    try:
        reply = await within(fut, limit)
    except TimeoutError:
        raise ToolError(f"no reply from {to} within {limit:g}s (message {env.id})") from None
    finally:
        post.forget_reply(env.id)
    return {"id": env.id, "reply": reply.as_dict()}


async def wait_for_message(agent: AgentRuntime, timeout: float | None = None) -> dict:
    inbox = agent.engine.post.inboxes[agent.agent_id]
    limit = timeout or DEFAULT_WAIT_TIMEOUT
    if not inbox.items:
        await agent.set_status(ev.WAITING_MESSAGE, "waiting for a message")
    msg = await inbox.get(limit)
    if msg is None:
        raise ToolError(f"no message arrived within {limit:g}s")
    agent.engine.post.consume(agent.agent_id, [msg])
    return msg.as_dict()


async def reply(agent: AgentRuntime, text: str, message_id: str | None = None) -> dict:
    post = agent.engine.post
    inbox = post.inboxes[agent.agent_id]
    if message_id is None:
        target = inbox.last_request
        if target is None:
            raise ToolError("there is no request to reply to; pass message_id")
    else:
        target = post.log.get(message_id)
        if target is None or agent.agent_id not in target.recipients:
            raise ToolError(f"no message {message_id!r} was sent to {agent.agent_id}")
    sender = target.sender
    env = await _send(agent, sender, text, REPLY, reply_to=target.id)
    if inbox.last_request is not None and inbox.last_request.id == target.id:
        inbox.last_request = None
    return {"id": env.id, "to": sender, "reply_to": target.id}


async def _check_disk(agent: AgentRuntime) -> None:
    """At its workspace size limit the agent waits for the person: go on (after freeing
    space, or with the limit left as is) or stop."""
    problem = await agent.sandbox.disk_problem()
    if problem is None:
        return
    before = agent.status, agent.activity
    await agent.set_status(ev.WAITING_USER, "waiting for you: workspace full")
    intr = await agent.engine.interrupts.raise_(agent.agent_id, ik.DISK, problem,
                                                reason="resources.disk reached")
    answer = await agent.engine.interrupts.wait(intr)
    if not answer.get("approved"):
        raise AgentFinished(f"stopped with a full workspace: {answer.get('text') or 'rejected'}")
    await agent.set_status(*before)


async def _interrupt(agent: AgentRuntime, kind: str, prompt: str, **extra: Any) -> ik.Interrupt:
    """Raise an interrupt, or take back the one this call raised before a restart."""
    intr = agent.recovered_interrupt
    if intr is not None:
        agent.recovered_interrupt = None
        return intr
    return await agent.engine.interrupts.raise_(agent.agent_id, kind, prompt, **extra)


async def _approval(agent: AgentRuntime, activity: str, prompt: str, what: str,
                    request: dict[str, Any]) -> None:
    """Park the agent on a command_approval interrupt; a rejection is the tool's error."""
    await agent.set_status(ev.AWAITING_APPROVAL, activity)
    intr = await _interrupt(agent, ik.COMMAND_APPROVAL, prompt, **request)
    answer = await agent.engine.interrupts.wait(intr)
    if not answer.get("approved"):
        why = answer.get("text") or "no reason given"
        raise ToolError(f"the person rejected this {what}: {why}")


async def _send(agent: AgentRuntime, to: str, text: str, kind: str,
                reply_to: str | None = None):
    """Send a message, or take back the one this call sent before a restart."""
    env = agent.recovered_message
    if env is not None:
        agent.recovered_message = None
        return env
    return await agent.engine.post.send(agent.agent_id, to, text, kind, reply_to=reply_to)


async def _ask(agent: AgentRuntime, kind: str, prompt: str, activity: str,
               timeout: float | None = None, **extra: Any) -> dict:
    await agent.set_status(ev.WAITING_USER, activity)
    queue = agent.engine.interrupts
    intr = await _interrupt(agent, kind, prompt, timeout=timeout, **extra)
    try:
        answer = await within(queue.wait(intr), timeout)
    except TimeoutError:
        note = f"no answer within {timeout:g}s; go on without one"
        if intr.pending:
            await queue.answer(intr.id, {"withdrawn": True, "expired": True, "text": note})
        answer = intr.answer or {"text": note}
    return {"interrupt": intr.id, **answer}


async def ask_user(agent: AgentRuntime, question: str, options: list[str] | None = None) -> dict:
    answer = await _ask(agent, ik.USER_INPUT, question, "waiting for you: a question",
                        options=options or None)
    return {"answer": answer.get("text", "")}


async def request_debug(agent: AgentRuntime, text: str, timeout: float | None = None) -> dict:
    answer = await _ask(agent, ik.DEBUG_REQUEST, text, "waiting for you: debug help", timeout)
    return {"answer": answer.get("text", ""), "expired": bool(answer.get("expired"))}


async def report_progress(agent: AgentRuntime, text: str) -> dict:
    intr = await _interrupt(agent, ik.PROGRESS_REPORT, text, blocking=False)
    folded = intr.extra.get("folded")
    if folded:  # past limits.pending_interrupts: say so, so the agent can slow down
        return {"reported": intr.id, "note": (
            f"the person has not read your earlier reports yet; this one replaced your newest "
            f"unread one and stands for {folded} reports")}
    return {"reported": intr.id}


async def propose_plan(agent: AgentRuntime, steps: list[str]) -> dict:
    if agent.config.needs_plan:  # a new plan withdraws the approval of the old one
        agent.plan_approved = False
    await agent.set_status(ev.AWAITING_APPROVAL, "waiting for you: plan approval")
    prompt = f"{agent.agent_id} proposes a plan of {len(steps)} steps"
    intr = await _interrupt(agent, ik.PLAN_APPROVAL, prompt, steps=steps)
    answer = await agent.engine.interrupts.wait(intr)
    if answer.get("approved"):
        agent.plan_approved = True
        agent.plan = list(answer.get("steps") or steps)  # the approved plan, as edited
        return {"approved": True, "steps": agent.plan}
    await agent.set_status(ev.PLANNING, "re-planning")
    return {"approved": False, "feedback": answer.get("text") or "rejected without feedback"}


async def update_memory(agent: AgentRuntime, text: str) -> dict:
    if agent.memory_path is None:
        raise ToolError(f"{agent.agent_id} has no memory_file in agents.yaml")
    try:
        entry = await asyncio.to_thread(append_memory, agent.memory_path, text, agent.agent_id)
    except MemoryEntryError as exc:
        raise ToolError(str(exc)) from None
    agent.memory_text += entry
    await agent.emit(ev.MEMORY_UPDATED, path=str(agent.memory_path), text=text,
                     call_id=agent.current_call_id)
    return {"appended": len(entry)}


async def finish(agent: AgentRuntime, summary: str) -> dict:
    raise AgentFinished(summary)


HANDLERS = {
    "run_command": run_command,
    "read_file": read_file,
    "write_file": write_file,
    "send_message": send_message,
    "wait_for_message": wait_for_message,
    "reply": reply,
    "ask_user": ask_user,
    "request_debug": request_debug,
    "report_progress": report_progress,
    "propose_plan": propose_plan,
    "update_memory": update_memory,
    "finish": finish,
    **shared_context.TOOL_HANDLERS,
    **claims.TOOL_HANDLERS,
    **WORKFLOW_HANDLERS,
}
#: tools allowed while no plan is approved (approval: plan): the ones that change nothing
#: outside the agent's conversation and the person's queue.  Messages (send_message,
#: reply) are changes too: they change what another agent knows and may act on.
PLAN_FREE_TOOLS = frozenset({"propose_plan", "read_file", "ask_user", "wait_for_message",
                             "report_progress", "request_debug", "finish",
                             "get_shared_context"})
