"""`brain: claude-code`: Claude Code (`claude -p --output-format stream-json`) as an agent.

Each turn runs ``claude -p`` in the agent's sandbox.  Its configuration is the
engine's, not the agent's (the workspace and the CLI's state directory are writable
by the agent, so nothing in them may change what the CLI is allowed to do):

* ``--setting-sources ""``: no user, project or local settings are read (a
  ``.claude/settings.json`` or hook the agent writes in its workspace does nothing);
  ``--settings`` is a file the engine writes in the read-only ``/agentorch/ctl``
  (permissions from ``cli.allowed_tools`` / ``disallowed_tools``, every hook off);
  ``--strict-mcp-config`` so only the engine's MCP servers are used.
* ``CLAUDE_CONFIG_DIR`` is ``/agentorch/state``, a per-agent directory outside the
  workspace (beside the run's database) that outlives the container, so
  ``--resume <session_id>`` works after a crash; auto-update, telemetry and other
  non-essential traffic are off.
* The model API is reached over the per-agent Unix socket of
  :mod:`engine.brains.model_socket` (key added outside, usage metered there), unless the
  agent passes the key into the sandbox itself with ``pass_env`` (a warning says so).
* ``approval: never`` runs with ``bypassPermissions`` (the sandbox is the boundary);
  otherwise a tool not in ``cli.allowed_tools`` is refused (and reported).
  ``approval: plan`` runs in plan mode until the plan (Claude Code's ExitPlanMode) is
  approved through agentorch's plan-approval interrupt.
"""

from __future__ import annotations

import json
import os
from typing import Any

from engine import events as ev
from engine.brains.base import ToolCall, ToolResult, Usage
from engine.brains.claude_prompt import system_prompt
from engine.brains.cli_agent import CliBrain
from engine.brains.cli_model import open_model_socket
from engine.brains.model_api import ANTHROPIC
from engine.brains.model_socket import PLACEHOLDER_KEY
from engine.budget import checked_count

SETTINGS = {
    "disableAllHooks": True,
    "hooks": {},
    "includeCoAuthoredBy": False,
    "cleanupPeriodDays": 36500,
    "env": {},
}
NON_ESSENTIAL_OFF = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
}
#: the agent's MCP view (engine/service/agent_socket.py): its URL in the sandbox's env
MCP_URL_ENV = "AGENTORCH_MCP_URL"
MCP_SERVER = "agentorch"
PERMISSION_TOOL = "approve_command"  # engine/service/mcp_permission.py
TEAM_TOOLS_NOTE = ("Your agentorch team tools, where you have them, are the MCP tools named "
                   "mcp__agentorch__<tool>.")


class ClaudeCodeBrain(CliBrain):
    kind = "claude-code"
    label = "Claude Code"

    def __init__(self, agent, team) -> None:
        super().__init__(agent, team)
        self.metered = False  # usage is charged by the model socket, not from the result
        self.system = ""
        self._plan: str | None = None  # the plan of an ExitPlanMode call, to approve
        self.permission_tool: str | None = None  # set when the agent has its MCP view

    # -- setup ------------------------------------------------------------------------------
    async def prepare(self) -> None:
        assert self.paths is not None
        ctx = self.ctx
        self.system = system_prompt(ctx, self.team.name) + "\n\n" + TEAM_TOOLS_NOTE
        settings = dict(SETTINGS)
        opts = self.options
        mcp_url = getattr(getattr(ctx, "sandbox", None), "spec", None)
        mcp_url = (mcp_url.env.get(MCP_URL_ENV) if mcp_url is not None else None)
        allow = list(opts.allowed_tools or [])
        if mcp_url and self.paths.in_container:  # the agent's own MCP view, over the relay
            _write(self.paths.ctl / "mcp.json", json.dumps(
                {"mcpServers": {MCP_SERVER: {"type": "http", "url": mcp_url}}}))
            allow.append(f"mcp__{MCP_SERVER}")  # its team tools: the view enforces the rules
            self.permission_tool = f"mcp__{MCP_SERVER}__{PERMISSION_TOOL}"
        settings["permissions"] = {"allow": allow, "deny": list(opts.disallowed_tools or [])}
        _write(self.paths.ctl / "settings.json", json.dumps(settings, indent=2))
        settings_api = self.team.anthropic
        self.socket = await open_model_socket(
            ctx, self.agent, ANTHROPIC, key_env=settings_api.api_key_env,
            base_url_env=settings_api.base_url_env, path=self.paths.ctl / "api.sock",
            label=self.label)
        self.metered = self.socket is not None

    # -- one turn ---------------------------------------------------------------------------
    def command(self, prompt: str) -> tuple[list[str], dict[str, str]]:
        assert self.paths is not None
        ctl, opts = self.paths.ctl_seen, self.options
        argv = ["claude", "-p", "--output-format", "stream-json", "--verbose",
                "--setting-sources", "", "--settings", f"{ctl}/settings.json",
                "--strict-mcp-config", "--append-system-prompt", self.system,
                "--permission-mode", self._permission_mode()]
        if self.agent.model:
            argv += ["--model", self.agent.model]
        if self.permission_tool is not None:
            argv += ["--mcp-config", f"{ctl}/mcp.json"]
            if self.agent.command_approval != "never":
                argv += ["--permission-prompt-tool", self.permission_tool]
        if opts.allowed_tools:
            argv += ["--allowedTools", ",".join(opts.allowed_tools)]
        if opts.disallowed_tools:
            argv += ["--disallowedTools", ",".join(opts.disallowed_tools)]
        if opts.max_turns:
            argv += ["--max-turns", str(opts.max_turns)]
        argv += list(opts.extra_args)
        if self.session_id:
            argv += ["--resume", self.session_id]
        argv += ["--", prompt]
        env = {"CLAUDE_CONFIG_DIR": self.paths.state_seen, "NO_PROXY": "127.0.0.1,localhost",
               **NON_ESSENTIAL_OFF}
        if self.socket is not None:
            env.update({"ANTHROPIC_UNIX_SOCKET": f"{ctl}/api.sock",
                        "ANTHROPIC_BASE_URL": "http://localhost",
                        "ANTHROPIC_API_KEY": PLACEHOLDER_KEY})
        return argv, env

    def _permission_mode(self) -> str:
        if self.agent.needs_plan and not getattr(self.ctx, "plan_approved", True):
            return "plan"
        return "bypassPermissions" if self.agent.command_approval == "never" else "default"

    # -- plans (approval: plan) -------------------------------------------------------------
    async def next_calls(self, results: list[ToolResult]) -> list[ToolCall]:
        results = [_plan_answer(r) if r.name == "propose_plan" else r for r in results]
        calls = await super().next_calls(results)
        if self._plan is None:
            return calls
        # the turn ended on a plan (ExitPlanMode): it goes to the person before anything else
        plan, self._plan = self._plan, None
        steps = [s.strip() for s in plan.splitlines() if s.strip()][:100] or [plan]
        return [ToolCall(f"{self.ctx.agent_id}-cli-plan-{self.turns}", "propose_plan",
                         {"steps": steps})]

    # -- its stream-json lines --------------------------------------------------------------
    async def handle(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if kind == "system" and line.get("subtype") == "init":
            await self.got_session(line.get("session_id"))
        elif kind == "assistant":
            for block in _blocks(line):
                if block.get("type") == "text":
                    await self.got_text(str(block.get("text") or ""))
                elif block.get("type") == "tool_use":
                    await self.got_tool_call(block.get("id", ""), block.get("name", "?"),
                                             block.get("input"))
                    if block.get("name") == "ExitPlanMode" and isinstance(block.get("input"), dict):
                        self._plan = str(block["input"].get("plan") or "")[:20_000] or None
        elif kind == "user":
            for block in _blocks(line):
                if block.get("type") == "tool_result":
                    await self.got_tool_result(block.get("tool_use_id", ""),
                                               _result_text(block.get("content")),
                                               bool(block.get("is_error")))
        elif kind == "result":
            await self._result(line)

    async def _result(self, line: dict[str, Any]) -> None:
        await self.got_session(line.get("session_id"))
        if not self.metered:
            await self.got_usage_of_result(line)
        for denial in (line.get("permission_denials") or [])[:20]:
            if isinstance(denial, dict) and denial.get("tool_name") != "ExitPlanMode":
                await self.ctx.emit(ev.NOTICE, level="warning", text=(
                    f"{self.ctx.agent_id}: Claude Code was refused {denial.get('tool_name')!s:.80}"
                    " (not in cli.allowed_tools, or its approval policy)"))
        subtype = str(line.get("subtype") or "")
        text = line.get("result") if isinstance(line.get("result"), str) else ""
        if subtype == "error_max_turns":
            await self.ctx.emit(ev.NOTICE, level="info", text=(
                f"{self.ctx.agent_id}: Claude Code reached cli.max_turns in this turn"))
            self.got_result(text=text, is_error=False)
            return
        failed = bool(line.get("is_error")) or subtype.startswith("error")
        self.got_result(text=text, is_error=failed,
                        error=f"Claude Code reported an error ({subtype or 'is_error'}): "
                              f"{text.strip()[:200] or 'no message'}")

    async def got_usage_of_result(self, line: dict[str, Any]) -> None:
        usage = line.get("usage") if isinstance(line.get("usage"), dict) else {}
        counts = [checked_count(usage.get(k))[0] for k in
                  ("input_tokens", "output_tokens", "cache_read_input_tokens",
                   "cache_creation_input_tokens")]
        cost = line.get("total_cost_usd")
        await self.ctx.record_usage(Usage(*counts, self.agent.model or ""),
                                    cost if isinstance(cost, int | float) else None)


def _plan_answer(result: ToolResult) -> ToolResult:
    """The person's answer to the plan as the next prompt (a wait_for_message-like result)."""
    content = result.content if isinstance(result.content, dict) else {}
    if content.get("approved"):
        steps = "\n".join(f"- {s}" for s in content.get("steps") or [])
        text = f"Your plan was approved; carry it out now:\n{steps}"
    else:
        text = ("Your plan was not approved. The person's feedback: "
                f"{content.get('feedback') or result.as_text()}\nRevise the plan.")
    return ToolResult(result.call_id, "wait_for_message",
                      {"id": "plan", "from": "user", "text": text, "kind": "notify"})


def _blocks(line: dict[str, Any]) -> list[dict[str, Any]]:
    message = line.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _result_text(content: Any) -> Any:
    if isinstance(content, list):
        texts = [str(b.get("text", "")) for b in content if isinstance(b, dict)
                 and b.get("type") == "text"]
        return "\n".join(texts) if texts else content
    return content


def _write(path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
