"""`brain: codex`: OpenAI's Codex CLI (`codex exec --json`) as an agent.

Each turn runs ``codex exec --json`` in the agent's sandbox (``codex exec resume
<thread_id>`` after the first).  Its JSONL events map to engine events:

* ``thread.started`` -> the session (thread) id, kept for resume;
* ``item.started`` / ``item.completed`` of a ``command_execution``, ``file_change``,
  ``mcp_tool_call`` or ``web_search`` -> `tool_call` / `tool_result` (tool names
  ``shell``, ``apply_patch``, ``mcp__<server>__<tool>``, ``web_search``);
* ``agent_message`` -> console text; ``reasoning`` is not shown;
* ``turn.completed`` -> the end of the turn (and its usage, when the key is passed in);
* ``turn.failed`` -> a failed turn (retry or stop); ``error`` -> a warning on screen
  (Codex says so while it retries), or the failure when no result follows.

**Its configuration is ours, not the agent's.**  ``CODEX_HOME`` (and ``HOME``) is the
per-agent state directory outside the workspace (its threads survive a restart), which
the agent can write; so Codex runs with ``--ignore-user-config`` (no ``config.toml`` of
``CODEX_HOME`` is read, nor the project trust it could grant a workspace ``.codex/``)
and ``--ignore-rules`` (no execpolicy rules), and everything it needs comes as ``-c``
overrides built here: the model provider, the agent's MCP view, analytics off.

**The model API** is the engine's model socket (engine/brains/model_socket.py): Codex's
provider is ``http://127.0.0.1:3130/v1`` in the container, which the relay forwards to
``/agentorch/ctl/model.sock``; the engine adds ``OPENAI_API_KEY`` outside and meters each
response (the ``response.completed`` usage) into the budget before the next request.
On the LOCAL backend the socket is a loopback TCP port.  ``pass_env: [OPENAI_API_KEY]``
is the only other way (a warning says the key enters the sandbox); usage then comes
from ``turn.completed`` (the thread's totals, so each turn is charged what it added), at
the price of `model:` under `pricing:`.

In a container Codex's own sandbox is off (``danger-full-access``): the container is the
boundary (Codex's bubblewrap is not in the image, and needs user namespaces that
Docker's default seccomp profile refuses).
``codex exec`` runs its commands itself and asks nobody: it serves `approval: never`;
with `risky` or `always` the agent runs ``codex app-server`` (engine/brains/codex_app.py),
whose approval requests go to the interrupt queue.
"""

from __future__ import annotations

import json
from typing import Any

from engine import events as ev
from engine.brains.base import Usage
from engine.brains.cli_agent import CliBrain
from engine.brains.cli_dirs import MODEL_PORT, MODEL_SOCKET
from engine.brains.cli_model import open_model_socket
from engine.brains.model_api import OPENAI
from engine.budget import checked_count

TOOL_ITEMS = {"command_execution": "shell", "file_change": "apply_patch",
              "web_search": "web_search"}
#: the model provider agentorch configures (its socket)
PROVIDER = "agentorch"
MCP_SERVER = "agentorch"
#: the agent's MCP view over the relay (engine/service/agent_socket.py)
MCP_URL_ENV = "AGENTORCH_MCP_URL"
#: flags that keep Codex's configuration ours (see the module's doc)
OWN_CONFIG = ("--ignore-user-config", "--ignore-rules")


class CodexBrain(CliBrain):
    kind = "codex"
    label = "Codex"
    #: said on stderr at every start when its stdin is not a terminal
    chatter = frozenset({"Reading additional input from stdin..."})

    async def prepare(self) -> None:
        assert self.paths is not None
        settings = self.team.openai
        self.socket = await open_model_socket(
            self.ctx, self.agent, OPENAI, key_env=settings.api_key_env,
            base_url_env=settings.base_url_env, path=self.paths.ctl / MODEL_SOCKET,
            label=self.label, tcp=not self.paths.in_container,
            # reached through the relay (its own uid): the socket's folder is in the
            # user's private (0700) directory on the host, bound into this container only
            mode=0o666)

    def command(self, prompt: str) -> tuple[list[str], dict[str, str]]:
        assert self.paths is not None
        in_container = self.paths.in_container
        sandbox = "danger-full-access" if in_container or self.agent.command_approval == \
            "never" else "workspace-write"
        argv = ["codex", "exec", "--json", "--skip-git-repo-check", *OWN_CONFIG,
                "--sandbox", sandbox]
        for key, value in self._config():
            argv += ["-c", f"{key}={value}"]
        if self.agent.model:
            argv += ["--model", self.agent.model]
        argv += list(self.options.extra_args)
        if self.session_id:
            argv += ["resume", self.session_id]
        argv += ["--", prompt]
        # HOME too: codex keeps state there as well, and a thread must survive the turn;
        # NO_PROXY: the egress proxy's variables must not catch the relayed ports
        return argv, {"CODEX_HOME": self.paths.state_seen, "HOME": self.paths.state_seen,
                      "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def _config(self) -> list[tuple[str, str]]:
        """Codex's settings as ``-c key=TOML`` overrides."""
        out = [("analytics.enabled", "false")]
        if self.socket is not None:
            port = MODEL_PORT if self.paths and self.paths.in_container else self.socket.port
            out += [(f"model_providers.{PROVIDER}",
                     f'{{name="agentorch", base_url="http://127.0.0.1:{port}/v1", '
                     'wire_api="responses"}'),
                    ("model_provider", f'"{PROVIDER}"')]
        spec = getattr(getattr(self.ctx, "sandbox", None), "spec", None)
        mcp_url = spec.env.get(MCP_URL_ENV) if spec is not None else None
        if mcp_url and self.paths is not None and self.paths.in_container:
            out.append((f"mcp_servers.{MCP_SERVER}.url", json.dumps(mcp_url)))
        return out

    async def handle(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        item = line.get("item") if isinstance(line.get("item"), dict) else {}
        if kind == "thread.started":
            await self.got_session(line.get("thread_id"))
        elif kind in ("item.started", "item.completed"):
            await self._item(kind, item)
        elif kind == "turn.completed":
            if self.socket is None:  # else the model socket has charged every response
                await self._turn_usage(line.get("usage"))
            self.got_result(text=self._last_message, is_error=False)
        elif kind == "turn.failed":
            error = line.get("error") if isinstance(line.get("error"), dict) else line
            message = str(error.get("message") or "no message")[:300]
            self.got_result(text=message, is_error=True,
                            error=f"Codex reported an error: {message}")
        elif kind == "error":  # said while Codex retries; the turn's end says how it went
            message = str(line.get("message") or "no message")[:300]
            self._outcome.tail = [*self._outcome.tail[-4:], f"error: {message}"]
            await self.ctx.emit(ev.NOTICE, level="warning", text=f"{self.ctx.agent_id}: Codex: "
                                f"{message}")

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
