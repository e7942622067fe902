"""The permission-prompt tool of an agent's MCP view (Claude Code's --permission-prompt-tool).

Claude Code asks before it runs one of its own tools: it calls this tool with
``{tool_name, input, tool_use_id?}`` and expects, as the text of the result, either
``{"behavior": "allow", "updatedInput": {...}}`` or ``{"behavior": "deny", "message": ...}``.
The answer follows the agent's `approval` policy exactly as built-in tools do:

* ``never``: allowed;
* until a plan is approved (``approval: plan``): only tools that change nothing;
* ``risky``: a shell command asks unless every part of it is on the safe list
  (engine/approval_gate.py's parser), a file write asks for protected paths, read-only
  tools go on; a tool it does not know asks (fail closed);
* ``always``: everything that changes something asks.

Asking is a `command_approval` interrupt, answered like any other (`--auto-approve`
approves it, as it approves commands).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.approval_gate import command_request, write_request

if TYPE_CHECKING:
    from engine.agent import AgentRuntime

PERMISSION_TOOL = "approve_command"
#: Claude Code's tools that only read (never asked about under `risky`)
READ_ONLY_TOOLS = frozenset({"Read", "Glob", "Grep", "LS", "NotebookRead", "TodoWrite",
                             "TodoRead", "Task", "ExitPlanMode", "BashOutput", "ListMcpResources",
                             "ReadMcpResource"})
SHELL_TOOLS = frozenset({"Bash"})
WRITE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})

SPEC_DESCRIPTION = (
    "Ask agentorch whether one of your CLI's own tools may run (Claude Code's "
    "--permission-prompt-tool). Follows this agent's approval policy; the person may be "
    "asked. Returns {behavior: allow, updatedInput} or {behavior: deny, message}.")
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"tool_name": {"type": "string"}, "input": {"type": "object"},
                   "tool_use_id": {"type": "string"}},
    "required": ["tool_name", "input"],
}


def _allow(tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"behavior": "allow", "updatedInput": tool_input}


def _deny(message: str) -> dict[str, Any]:
    return {"behavior": "deny", "message": message}


def _shown(tool: str, tool_input: dict[str, Any]) -> str:
    text = json.dumps(tool_input, ensure_ascii=False, sort_keys=True)
    return f"{tool} {text[:2000]}"


async def _request(agent: AgentRuntime, tool: str, tool_input: dict[str, Any]) -> dict | None:
    """The fields of a command_approval interrupt for this use, or None to allow it."""
    mode = agent.config.command_approval
    command = tool_input.get("command")
    if tool in SHELL_TOOLS and isinstance(command, str):
        return await command_request(agent, command)
    path = tool_input.get("file_path") or tool_input.get("notebook_path")
    if tool in WRITE_TOOLS and isinstance(path, str):
        content = tool_input.get("content") or tool_input.get("new_string") or \
            tool_input.get("new_source") or json.dumps(tool_input.get("edits") or "")
        return await write_request(agent, path, str(content))
    if tool in READ_ONLY_TOOLS and mode != "never":
        return None
    if mode == "never":
        return None
    return {"command": _shown(tool, tool_input),
            "reason": f"approval: {mode}; agentorch does not know what {tool} does"}


async def permission_prompt(agent: AgentRuntime, tool_name: str, tool_input: Any,
                            tool_use_id: str | None = None) -> dict[str, Any]:
    """Claude Code's permission decision for one use of its tool ``tool_name``."""
    from engine.toolbox import ToolError, _approval

    if not isinstance(tool_input, dict):
        return _deny("input must be an object")
    if not agent.plan_approved and tool_name not in READ_ONLY_TOOLS:
        return _deny(f"no plan of yours is approved (approval: plan), so {tool_name} is "
                     "refused: propose your plan and wait for the person's approval")
    request = await _request(agent, tool_name, tool_input)
    if request is None:
        return _allow(tool_input)
    if "path" not in request:
        request.setdefault("command", _shown(tool_name, tool_input))
    request["tool"] = tool_name
    activity = f"approve {tool_name}: {str(request.get('command') or request.get('path'))[:60]}"
    try:
        await _approval(agent, activity, f"{agent.agent_id} wants to use {tool_name}",
                        tool_name, request)
    except ToolError as exc:
        return _deny(str(exc))
    finally:
        if agent.status == ev.AWAITING_APPROVAL:
            await agent.set_status(ev.RUNNING, "")
    return _allow(tool_input)
