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
* ``turn.completed`` -> usage (cached input as cache reads; the thread's totals, so each
  turn is charged what it added), at the price of `model:` under `pricing:` (no price:
  tokens are counted, dollars not);
* ``turn.failed`` / ``error`` -> a failed turn (retry or stop).

Codex reaches its API only through the network rules of the egress issue with its key
passed in (``pass_env: [OPENAI_API_KEY]``): there is no key-injecting socket for it yet.
Tested with the real binary on the local backend against a fake of the Responses API
(tests/test_cli_agent_codex.py), and with a recorded stream of its events.
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
        # HOME too: codex keeps state there as well, and a thread must survive the turn
        return argv, {"CODEX_HOME": self.paths.state_seen, "HOME": self.paths.state_seen}

    async def handle(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        item = line.get("item") if isinstance(line.get("item"), dict) else {}
        if kind == "thread.started":
            await self.got_session(line.get("thread_id"))
        elif kind in ("item.started", "item.completed"):
            await self._item(kind, item)
        elif kind == "turn.completed":
            await self._turn_usage(line.get("usage"))
            self.got_result(text=self._last_message, is_error=False)
        elif kind in ("turn.failed", "error"):
            error = line.get("error") if isinstance(line.get("error"), dict) else line
            message = str(error.get("message") or "no message")[:300]
            self.got_result(text=message, is_error=True,
                            error=f"Codex reported an error: {message}")

    _last_message = ""
    #: the thread's usage so far: `turn.completed` reports the thread's totals (a resumed
    #: thread counts its earlier turns again), so each turn is charged the difference
    _totals: tuple[int, int, int] = (0, 0, 0)

    def restore(self, saved: dict[str, Any]) -> None:
        totals = saved.get("usage_totals")
        if isinstance(totals, list) and len(totals) == 3 and all(
                isinstance(n, int) and n >= 0 for n in totals):
            self._totals = (totals[0], totals[1], totals[2])

    def saved(self) -> dict[str, Any]:
        return {"usage_totals": list(self._totals)}

    async def _turn_usage(self, usage: Any) -> None:
        usage = usage if isinstance(usage, dict) else {}
        now = tuple(checked_count(usage.get(k))[0] for k in
                    ("input_tokens", "cached_input_tokens", "output_tokens"))
        before = self._totals if all(n >= b for n, b in zip(now, self._totals, strict=True)) \
            else (0, 0, 0)  # lower than before: a new thread, counted from zero
        self._totals = now
        given, cached, output = (n - b for n, b in zip(now, before, strict=True))
        await self.got_usage(Usage(max(0, given - cached), output, cached, 0,
                                   self.agent.model or ""))

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
