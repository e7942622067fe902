"""`brain: codex` with `approval: risky` or `always`: Codex's approvals in agentorch's queue.

``codex exec`` runs every command itself and asks nobody, so an agent whose commands need
the person's approval runs ``codex app-server`` instead (the JSON-RPC interface of Codex's
IDE extensions; engine/brains/codex_rpc.py), one process a turn, in the same container:
``thread/start`` (``thread/resume`` with the kept thread id after the first turn), then
``turn/start`` with the prompt.  Its ``item/started`` / ``item/completed`` notifications
become the same `tool_call` / `tool_result` events as ``codex exec``'s lines, and
``turn/completed`` ends the turn.

Codex runs with ``approvalPolicy: untrusted``: before a command that is not on its own
short read-only list (``ls``, ``cat``, ``git status`` ...) and before a file change it
sends ``item/commandExecution/requestApproval`` / ``item/fileChange/requestApproval``.
agentorch answers them by the agent's `approval:` exactly as for its own `run_command` and
`write_file` (engine/approval_gate.py): under `risky` a command every part of which is on
the safe list, or a write to an unprotected path, is accepted at once; anything else is a
`command_approval` interrupt, and the person's answer is Codex's (declined, the reason is
sent into the turn, and the command never runs).

**Its configuration stays ours.**  The app server has no ``--ignore-user-config`` nor
``--ignore-rules``: so before each turn the engine removes from ``CODEX_HOME`` (the
agent-writable state directory) every file Codex would take settings, execpolicy rules or
hooks from (a rule there could pre-approve ``rm``); without a ``config.toml`` the
workspace is not trusted, so a workspace ``.codex/`` is not read either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.approval_gate import command_request, write_request
from engine.brains.base import Usage
from engine.brains.cli_agent import TurnOutcome
from engine.brains.cli_model import sandbox_owner
from engine.brains.codex import MCP_SERVER, CodexBrain
from engine.brains.codex_rpc import APP_PORT, APP_SOCKET, AppListener, Rpc, RpcError
from engine.budget import checked_count
from sandboxes.paths import CONTAINER_WORKSPACE

#: what Codex would read its settings, rules or hooks from in CODEX_HOME: removed each turn
UNTRUSTED_HOME_FILES = ("config.toml", "rules", "hooks.json", "hooks", "requirements.toml",
                        "managed_config.toml", ".codex")
#: stdin and stdout of the app server on the relayed connection ($0 is the port)
CONNECT = 'exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 97; exec "$@" <&3 >&3 3>&-'
STEER_WAIT = 30.0  # s for Codex to take the person's reason
ITEM_TYPES = {"commandExecution": "command_execution", "fileChange": "file_change",
              "mcpToolCall": "mcp_tool_call", "webSearch": "web_search",
              "agentMessage": "agent_message"}


class CodexAppBrain(CodexBrain):
    """Codex over its app server, its approvals routed to the interrupt queue."""

    listener: AppListener | None = None
    _rpc: Rpc | None = None
    _turn_id = ""

    async def prepare(self) -> None:
        await super().prepare()
        assert self.paths is not None
        self.listener = AppListener()
        in_container = self.paths.in_container
        await self.listener.start(self.paths.ctl / APP_SOCKET if in_container else None,
                                  sandbox_owner(self.ctx))
        self._items: dict[str, dict[str, Any]] = {}
        self._declined: dict[str, str] = {}  # item id -> why the person said no

    async def close(self) -> None:
        if self.listener is not None:
            await self.listener.close()
            self.listener = None
        await super().close()

    # -- one turn -----------------------------------------------------------------------
    def command(self, prompt: str) -> tuple[list[str], dict[str, str]]:
        assert self.paths is not None and self.listener is not None
        port = APP_PORT if self.paths.in_container else self.listener.port
        argv = ["bash", "-c", CONNECT, str(port), "codex", "app-server"]
        for key, value in self._config():
            argv += ["-c", f"{key}={value}"]
        argv += list(self.options.extra_args)  # `-c key=value` serves both commands
        return argv, {"CODEX_HOME": self.paths.state_seen, "HOME": self.paths.state_seen,
                      "RUST_LOG": "off", "NO_PROXY": "127.0.0.1,localhost",
                      "no_proxy": "127.0.0.1,localhost"}

    async def _turn(self, prompt: str) -> TurnOutcome:
        assert self.listener is not None and self.paths is not None
        remove_untrusted(self.paths.state)
        connection = self.listener.expect()
        driver = asyncio.ensure_future(self._drive(connection, prompt))
        try:
            return await super()._turn(prompt)
        finally:
            driver.cancel()
            with contextlib.suppress(BaseException):
                await driver
            rpc, self._rpc = self._rpc, None
            if rpc is not None:
                await rpc.close()

    async def _drive(self, connection: asyncio.Future, prompt: str) -> None:
        reader, writer = await connection
        rpc = self._rpc = Rpc(reader, writer, self._notified, self._asked)
        in_container = self.paths is not None and self.paths.in_container
        try:
            await rpc.call("initialize", {"clientInfo": {"name": "agentorch", "version": "1"}})
            await rpc.notify("initialized")
            params: dict[str, Any] = {  # on LOCAL its cwd is the workspace already
                "approvalPolicy": "untrusted",
                "sandbox": "danger-full-access" if in_container else "workspace-write",
                **({"cwd": CONTAINER_WORKSPACE} if in_container else {})}
            if self.agent.model:
                params["model"] = self.agent.model
            if self.session_id:
                started = await rpc.call("thread/resume", {"threadId": self.session_id, **params})
            else:
                started = await rpc.call("thread/start", params)
            thread = (started or {}).get("thread") or {}
            await self.got_session(thread.get("id"))
            await rpc.call("turn/start", {"threadId": self.session_id, "input": [
                {"type": "text", "text": prompt, "text_elements": []}]})
            await rpc.closed.wait()
        except RpcError as exc:
            if not self._outcome.result_seen:
                self.got_result(text=str(exc), is_error=True,
                                error=f"the Codex app server failed: {exc}")
        finally:
            with contextlib.suppress(OSError):
                writer.close()  # its stdin ends: the app server exits

    # -- what it says -----------------------------------------------------------------------
    async def _notified(self, method: str, params: dict[str, Any]) -> None:
        self._last_line = time.monotonic()
        item = params.get("item") if isinstance(params.get("item"), dict) else {}
        if method in ("item/started", "item/completed") and item.get("type") in ITEM_TYPES:
            self._items[str(item.get("id"))] = item
            await self._item(method.replace("/", "."), exec_item(
                item, self._declined.pop(str(item.get("id")), "")
                if method == "item/completed" else ""))
            if method == "item/completed":
                self._items.pop(str(item.get("id")), None)
        elif method == "turn/started":
            self._turn_id = str((params.get("turn") or {}).get("id") or "")
        elif method == "turn/completed":
            await self._completed(params.get("turn") if isinstance(params.get("turn"), dict) else {})
        elif method == "thread/tokenUsage/updated" and self.socket is None:
            await self._response_usage((params.get("tokenUsage") or {}).get("last"))
        elif method == "error":
            error = params.get("error") if isinstance(params.get("error"), dict) else {}
            await self.handle({"type": "error", "message": error.get("message")})

    async def _completed(self, turn: dict[str, Any]) -> None:
        status = turn.get("status")
        if status == "completed":
            self.got_result(text=self._last_message, is_error=False)
        else:
            error = turn.get("error") if isinstance(turn.get("error"), dict) else {}
            message = str(error.get("message") or f"the turn ended {status}")[:300]
            self.got_result(text=message, is_error=True, error=f"Codex reported an error: {message}")
        if self._rpc is not None:  # the turn is over: its stdin ends, and it exits
            self._rpc.end()

    async def _response_usage(self, last: Any) -> None:
        last = last if isinstance(last, dict) else {}
        given, cached, output = (checked_count(last.get(k))[0] for k in
                                 ("inputTokens", "cachedInputTokens", "outputTokens"))
        await self.got_usage(Usage(max(0, given - cached), output, cached, 0,
                                   self.agent.model or ""))

    # -- what it asks -------------------------------------------------------------------------
    async def _asked(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "item/commandExecution/requestApproval":
            item = self._items.get(str(params.get("itemId")), {})
            command = inner_command(str(params.get("command") or item.get("command") or ""))
            return await self._decide("shell", await command_request(self.ctx, command),
                                      command, params)
        if method == "item/fileChange/requestApproval":
            item = self._items.get(str(params.get("itemId")), {})
            return await self._decide("apply_patch", await self._change_request(item),
                                      "a file change", params)
        if method == "mcpServer/elicitation/request":  # its MCP tool calls: the view decides
            ours = params.get("serverName") == MCP_SERVER
            return {"action": "accept" if ours else "decline", "content": {} if ours else None}
        if method == "item/permissions/requestApproval":
            return {"permissions": {}, "scope": "turn"}  # nothing more than it has
        if method == "item/tool/requestUserInput":
            return {"answers": {}}
        raise RpcError(f"agentorch does not answer {method}")

    async def _change_request(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """One command_approval for the change's files that need approval, or None."""
        changes = [c for c in item.get("changes") or [] if isinstance(c, dict)]
        if not changes:  # what it would change is not known: ask
            return {"command": "apply_patch (its changes were not shown)",
                    "reason": f"approval: {self.agent.command_approval}"}
        asks = [r for c in changes if (r := await write_request(
            self.ctx, str(c.get("path") or ""), str(c.get("diff") or ""))) is not None]
        if not asks:
            return None
        return {"path": ", ".join(str(r["path"]) for r in asks)[:500],
                "reason": "; ".join(dict.fromkeys(str(r["reason"]) for r in asks)),
                "files": [f for r in asks for f in r.get("files") or []][:20]}

    async def _decide(self, tool: str, request: dict[str, Any] | None, shown: str,
                      params: dict[str, Any]) -> dict[str, Any]:
        from engine.toolbox import ToolError, _approval

        if request is None:
            return {"decision": "accept"}
        request["tool"] = tool
        ctx = self.ctx
        waiting = asyncio.ensure_future(_approval(
            ctx, f"approve {tool}: {shown[:60]}", f"{ctx.agent_id} (Codex) wants to run "
            f"{tool}", f"{tool} command" if tool == "shell" else "file change", request))
        try:
            while not waiting.done():  # the turn waits for the person: not idle
                self._last_line = time.monotonic()
                await asyncio.wait({waiting}, timeout=5)
            waiting.result()
        except ToolError as exc:
            self._declined[str(params.get("itemId"))] = str(exc)
            await self._tell(f"agentorch: {exc}. Do not try to get around this; go on "
                             "another way or ask.", params)
            return {"decision": "decline"}
        finally:
            waiting.cancel()
            if getattr(ctx, "status", None) == ev.AWAITING_APPROVAL:
                with contextlib.suppress(Exception):
                    await ctx.set_status(ev.RUNNING, tool)  # type: ignore[attr-defined]
        return {"decision": "accept"}

    async def _tell(self, text: str, params: dict[str, Any]) -> None:
        """The person's reason, into the running turn (``turn/steer``), before the
        decline is answered: Codex then sends both with its next request (a steer while
        a response streams would cut that response)."""
        rpc = self._rpc
        if rpc is None or not self.session_id:
            return
        turn = str(params.get("turnId") or self._turn_id)
        with contextlib.suppress(RpcError, TimeoutError):
            await asyncio.wait_for(rpc.call("turn/steer", {
                "threadId": self.session_id, "expectedTurnId": turn,
                "input": [{"type": "text", "text": text, "text_elements": []}]}), STEER_WAIT)


def exec_item(item: dict[str, Any], declined: str = "") -> dict[str, Any]:
    """An app-server item in the shape of ``codex exec --json``'s (CodexBrain._item);
    ``declined``: why the person said no."""
    out = {"type": ITEM_TYPES[item["type"]], "id": item.get("id"),
           "command": inner_command(str(item.get("command") or "")),
           "aggregated_output": item.get("aggregatedOutput"), "exit_code": item.get("exitCode"),
           "status": item.get("status")}
    for key in ("changes", "server", "tool", "arguments", "result", "error", "text", "query"):
        if key in item:
            out[key] = item[key]
    if "command" not in item:
        del out["command"]
    if out["aggregated_output"] is None:
        del out["aggregated_output"]
    if item.get("status") == "declined":
        out["status"] = "failed"
        out["error"] = f"declined: {declined or 'the person did not approve it'}"
    return out


def inner_command(command: str) -> str:
    """``/bin/bash -lc 'rm -rf build'`` -> ``rm -rf build`` (what Codex was asked to run)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) == 3 and os.path.basename(words[0]) in ("bash", "sh", "zsh") and \
            words[1] in ("-c", "-lc"):
        return words[2]
    return command


def remove_untrusted(home: Path) -> None:
    """Remove what Codex would read settings, rules or hooks from in its (agent-writable)
    home, without following a link the agent put there."""
    try:
        fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        for name in UNTRUSTED_HOME_FILES:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if os.path.isdir(home / name) and not os.path.islink(home / name) and \
                    (st.st_mode & 0o170000) == 0o040000:
                shutil.rmtree(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)
