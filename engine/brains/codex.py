"""`brain: codex`: OpenAI's Codex CLI (`codex exec --json`) as an agent.

Each turn runs ``codex exec --json`` in the agent's sandbox (``codex exec resume
<thread_id>`` after the first), with ``CODEX_HOME`` in the per-agent state directory
outside the workspace (so the agent's workspace cannot configure it, and the thread
survives a restart).  Its JSONL events map to engine events:

* ``thread.started`` -> the session (thread) id, kept for resume;
* ``item.started`` / ``item.completed`` of a ``command_execution``, ``file_change``,
  ``mcp_tool_call`` or ``web_search`` -> `tool_call` / `tool_result` (tool names
  ``shell``, ``apply_patch``, ``mcp__<server>__<tool>``, ``web_search``);
* ``agent_message`` -> console text; ``reasoning`` is not shown;
* ``turn.completed`` -> usage (cached input as cache reads), charged to the budgets at
  the price of `model:` under `pricing:` (no price: tokens are counted, dollars not);
* ``turn.failed`` / ``error`` -> a failed turn (retry or stop).

Codex reaches its API only through the network rules of the egress issue with its key
passed in (``pass_env: [OPENAI_API_KEY]``): there is no key-injecting socket for it yet.
Tested with a recorded stream of these documented events, not the real binary.
"""

from __future__ import annotations

import json
from typing import Any

from engine.brains.base import Usage
from engine.brains.cli_agent import CliBrain
from engine.budget import checked_count

TOOL_ITEMS = {"command_execution": "shell", "file_change": "apply_patch",
              "web_search": "web_search"}


class CodexBrain(CliBrain):
    kind = "codex"
    label = "Codex"

    def command(self, prompt: str) -> tuple[list[str], dict[str, str]]:
        assert self.paths is not None
        argv = ["codex", "exec", "--json", "--skip-git-repo-check",
                "--sandbox", "danger-full-access" if self.agent.command_approval == "never"
                else "workspace-write"]
        if self.agent.model:
            argv += ["--model", self.agent.model]
        argv += list(self.options.extra_args)
        if self.session_id:
            argv += ["resume", self.session_id]
        argv += ["--", prompt]
        return argv, {"CODEX_HOME": self.paths.state_seen}

    async def handle(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        item = line.get("item") if isinstance(line.get("item"), dict) else {}
        if kind == "thread.started":
            await self.got_session(line.get("thread_id"))
        elif kind in ("item.started", "item.completed"):
            await self._item(kind, item)
        elif kind == "turn.completed":
            usage = line.get("usage") if isinstance(line.get("usage"), dict) else {}
            given, _ = checked_count(usage.get("input_tokens"))
            cached, _ = checked_count(usage.get("cached_input_tokens"))
            output, _ = checked_count(usage.get("output_tokens"))
            await self.got_usage(Usage(max(0, given - cached), output, cached, 0,
                                       self.agent.model or ""))
            self.got_result(text=self._last_message, is_error=False)
        elif kind in ("turn.failed", "error"):
            error = line.get("error") if isinstance(line.get("error"), dict) else line
            message = str(error.get("message") or "no message")[:300]
            self.got_result(text=message, is_error=True,
                            error=f"Codex reported an error: {message}")

    _last_message = ""

    async def _item(self, kind: str, item: dict[str, Any]) -> None:
        item_type = item.get("type")
        item_id = str(item.get("id") or "")
        if item_type == "agent_message" and kind == "item.completed":
            self._last_message = str(item.get("text") or "")
            await self.got_text(self._last_message)
            return
        if item_type == "mcp_tool_call":
            name = f"mcp__{item.get('server', '?')}__{item.get('tool', '?')}"
            args = item.get("arguments")
        elif item_type in TOOL_ITEMS:
            name = TOOL_ITEMS[item_type]
            args = {k: item[k] for k in ("command", "changes", "query") if k in item}
        else:
            return
        if kind == "item.started" or item_id not in self._tool_names:
            await self.got_tool_call(item_id, name, args if isinstance(args, dict) else {})
        if kind == "item.completed":
            failed = item.get("status") == "failed" or bool(item.get("error")) or \
                item.get("exit_code") not in (None, 0)
            result = item.get("aggregated_output", item.get("result", item.get("changes")))
            if item.get("error"):
                result = item["error"]
            await self.got_tool_result(item_id, result if result is not None else
                                       json.dumps({"status": item.get("status")}), failed)
