"""`brain: command`: your own program as an agent, speaking agentorch's JSON-lines contract.

Each turn runs ``cli.command`` in the agent's sandbox (never through a shell) with the
turn's prompt as its last argument, and with

* ``AGENTORCH_SESSION``: the id the program gave in an earlier turn (empty at first),
* ``AGENTORCH_TURN``: the turn's number (1, 2, ...),
* ``AGENTORCH_STATE_DIR``: a per-agent directory outside the workspace that survives
  restarts (for the program's own state).

It prints one JSON object per line on stdout (other lines are shown as output):

``{"type": "session", "id": "..."}``
    the session to continue next turn (passed back in AGENTORCH_SESSION)
``{"type": "text", "text": "..."}``
    what the agent says (the console)
``{"type": "tool_call", "id": "c1", "name": "...", "args": {...}}`` and
``{"type": "tool_result", "id": "c1", "result": ..., "is_error": false}``
    a tool it used, shown as `tool_call` / `tool_result` events with its names
``{"type": "usage", "model": "...", "input_tokens": 0, "output_tokens": 0,
"cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 0.0}``
    spending, charged to the budgets (priced by `model:` when agentorch knows its price,
    else at ``cost_usd``; counts must be non-negative integers)
``{"type": "result", "text": "...", "done": false, "is_error": false}``
    the end of the turn: ``done`` ends the agent with ``text`` as its summary; otherwise
    it waits for messages, and the next one is its next turn.  A turn without a result
    line (crash, hang) is an error the person is asked about.
"""

from __future__ import annotations

from typing import Any

from engine.brains.base import Usage
from engine.brains.cli_agent import CliBrain
from engine.budget import checked_count


class CommandBrain(CliBrain):
    kind = "command"
    label = "the agent's command"

    def command(self, prompt: str) -> tuple[list[str], dict[str, str]]:
        assert self.paths is not None
        argv = [*(self.options.command or []), *self.options.extra_args, prompt]
        return argv, {"AGENTORCH_SESSION": self.session_id or "",
                      "AGENTORCH_TURN": str(self.turns),
                      "AGENTORCH_STATE_DIR": self.paths.state_seen}

    async def handle(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if kind == "session":
            await self.got_session(line.get("id"))
        elif kind == "text":
            await self.got_text(str(line.get("text") or ""))
        elif kind == "tool_call":
            await self.got_tool_call(str(line.get("id") or ""), str(line.get("name") or "?"),
                                     line.get("args") or {})
        elif kind == "tool_result":
            await self.got_tool_result(str(line.get("id") or ""), line.get("result"),
                                       bool(line.get("is_error")))
        elif kind == "usage":
            counts = [checked_count(line.get(k))[0] for k in
                      ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")]
            model = str(line.get("model") or self.agent.model or "")[:200]
            cost = line.get("cost_usd")
            await self.ctx.record_usage(Usage(*counts, model),
                                        cost if isinstance(cost, int | float) else None)
        elif kind == "result":
            text = line.get("text")
            self.got_result(text=text if isinstance(text, str) else "",
                            is_error=bool(line.get("is_error")), done=bool(line.get("done")))
