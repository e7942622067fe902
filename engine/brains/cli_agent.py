"""CLI agents: a coding CLI (Claude Code, Codex, any command) as a team member.

The CLI runs inside the agent's sandbox, in its workspace, as the sandbox user, through
the sandbox's streaming exec (never on the host with the docker backend).  One *turn*
is one run of the CLI: the first with the agent's instructions, each later one with
the messages that arrived for it as the prompt, continuing the CLI's own session
(``--resume <session_id>``).  Its JSON lines become engine events (subclasses map
them): text for the console, each of its tool uses and results as `tool_call` /
`tool_result` with the CLI's tool names, usage for the budgets.

Through the agent loop (engine/agent.py) a CLI brain's ``next_calls`` runs one turn,
then asks for a `wait_for_message` call: the engine's own tool parks the agent until a
message arrives (pause and cancel act there, so pause stops after the current turn),
and its result is the next turn's prompt.  The agent is done when the CLI called
`finish` (through agentorch's MCP tools), when its result says it is done (the
`command` contract), or after a turn when it may not wait for messages.

A CLI that crashes, hangs (no line for ``idle_timeout`` s, or past ``turn_timeout``) or
ends without a result gets a clear status and a `debug_request` (retry the turn, or
stop the agent): never a stuck agent.  Cancel kills the CLI's whole process tree (the
sandbox's exec does).  The session id and whether a turn was under way are kept with
the agent (``save_conversation``), so a run resumed after kill -9 continues the CLI's
session and says the cut turn was interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import events as ev
from engine import interrupts as ik
from engine.brains.base import Brain, BrainContext, BrainError, ToolCall, ToolResult, Usage
from engine.brains.claude_prompt import inbox_text
from engine.brains.cli_dirs import CliPaths, cli_paths, prepare_dirs
from engine.brains.model_socket import ModelSocket
from engine.config import TOOL_NAMES, AgentConfig, TeamConfig
from memory.text_safety import clean_value

WAIT_FOR_MESSAGES = 24 * 3600.0
MAX_PROMPT_BYTES = 100_000  # one argument of the CLI (Linux allows 128 KiB)
MAX_RESULT_CHARS = 16_384  # of a CLI tool's result kept in the event
MAX_GARBAGE_SHOWN = 50  # non-JSON lines shown per turn; the rest are counted
TAIL_LINES = 5


@dataclass
class TurnOutcome:
    """What one run of the CLI ended with."""

    result_seen: bool = False
    is_error: bool = False
    error: str = ""  # why the turn failed, one sentence
    text: str = ""  # the final text (summary)
    done: bool = False  # the CLI said the agent is finished
    finish_summary: str | None = None  # the agent called finish (via MCP)
    exit_code: int | None = None
    tail: list[str] = field(default_factory=list)  # the last non-JSON lines


class CliBrain(Brain):
    """The turn loop shared by every CLI; subclasses build the command and map lines."""

    kind = "command"
    label = "the command"
    #: lines the CLI prints every turn that say nothing (not shown in the console)
    chatter: frozenset[str] = frozenset()

    def __init__(self, agent: AgentConfig, team: TeamConfig) -> None:
        self.agent = agent
        self.team = team
        self.options = agent.cli_options
        self.session_id: str | None = None
        self.summary = ""
        self.turns = 0
        self.paths: CliPaths | None = None
        #: the model socket (engine/brains/cli_model.py): None when the key is passed in
        self.socket: ModelSocket | None = None
        self._interrupted_turn = False
        self._started = False
        self._outcome = TurnOutcome()
        self._tool_names: dict[str, str] = {}
        self._garbage = 0
        self._last_line = 0.0

    # -- subclass hooks ------------------------------------------------------------------
    def command(self, prompt: str) -> tuple[list[str], dict[str, str]]:
        """argv and environment of one turn."""
        raise NotImplementedError

    async def handle(self, line: dict[str, Any]) -> None:
        """One JSON line of the CLI's output."""
        raise NotImplementedError

    async def prepare(self) -> None:
        """Before the first turn (settings files, the model socket)."""

    # -- setup -------------------------------------------------------------------------------
    async def start(self, ctx: BrainContext) -> None:
        await super().start(ctx)
        engine = getattr(ctx, "engine", None)
        sandbox = getattr(ctx, "sandbox", None)
        if engine is not None and sandbox is not None:
            root = Path(str(engine.store.path)).resolve().parent
            self.paths = cli_paths(engine.run_id, ctx.agent_id, root, sandbox.kind)
            prepare_dirs(self.paths)
        state = await ctx.load_conversation() or []
        saved = state[0] if state and isinstance(state[0], dict) else {}
        self.session_id = saved.get("session_id") if isinstance(saved.get("session_id"), str) else None
        self.turns = int(saved.get("turns") or 0)
        self._interrupted_turn = bool(saved.get("turn_open"))
        self.restore(saved)
        await self._close_cut_tool_call(ctx)
        if self._interrupted_turn:
            await ctx.emit(ev.NOTICE, level="warning", text=(
                f"{ctx.agent_id}: its last {self.label} turn was interrupted (the engine "
                "stopped while it ran); it goes on in the same session"))
        await self.prepare()

    async def _close_cut_tool_call(self, ctx: BrainContext) -> None:
        """A CLI tool call left open by a crash is reported as interrupted, never re-run
        by the engine (it is the CLI's, not one of the engine's tools)."""
        call = getattr(ctx, "unfinished_call", None)
        if call is None or call.name in TOOL_NAMES:
            return
        ctx.unfinished_call = None  # type: ignore[attr-defined]
        await ctx.emit(ev.TOOL_RESULT, call_id=call.id, tool=call.name, is_error=True,
                       interrupted=True, result={"error": "agentorch stopped while the CLI ran "
                                                 "this; it was interrupted"})

    def restore(self, saved: dict[str, Any]) -> None:
        """A subclass's own fields of the saved state (see ``saved``)."""

    def saved(self) -> dict[str, Any]:
        """A subclass's own fields to keep with the session (JSON)."""
        return {}

    async def _save(self, turn_open: bool, prompt: str = "") -> None:
        await self.ctx.save_conversation([{**self.saved(), "cli": self.kind,
                                           "session_id": self.session_id, "turns": self.turns,
                                           "turn_open": turn_open, "prompt": prompt[:2000]}])

    # -- the loop ------------------------------------------------------------------------------
    async def next_calls(self, results: list[ToolResult]) -> list[ToolCall]:
        if getattr(self.ctx, "finish_requested", False):  # finish called through MCP
            self.summary = getattr(self.ctx, "summary", "") or self.summary
            return []
        prompt = self._prompt(results)
        if prompt is None:  # waited without a message arriving: wait again
            return [self._wait_call()]
        outcome = await self._turn_until_done(prompt)
        if getattr(self.ctx, "finish_requested", False):
            self.summary = getattr(self.ctx, "summary", "") or outcome.text
            return []
        if outcome.finish_summary is not None:
            self.summary = outcome.finish_summary or outcome.text
            return []
        if outcome.done or "wait_for_message" not in self.agent.allowed_tools():
            self.summary = outcome.text or f"{self.label} ended its turn"
            return []
        return [self._wait_call()]

    def _wait_call(self) -> ToolCall:
        return ToolCall(f"{self.ctx.agent_id}-cli-wait-{self.turns}-{time.monotonic_ns()}",
                        "wait_for_message", {"timeout": WAIT_FOR_MESSAGES})

    def _prompt(self, results: list[ToolResult]) -> str | None:
        parts: list[str] = []
        if not self._started:
            self._started = True
            if self._interrupted_turn:
                parts.append("(agentorch: your previous turn was interrupted when the engine "
                             "stopped; check what was done and go on.)")
            elif self.session_id is None:
                parts.append((self.agent.initial_instructions or "").strip()
                             or "Begin your work.")
        for result in results:
            if result.name == "wait_for_message" and not result.is_error and isinstance(
                    result.content, dict):
                parts.append(_message_text(result.content))
        msgs = self.ctx.take_messages()  # what else arrived (consumed with the next save)
        parts.extend(inbox_text(m) for m in msgs)
        if not parts:
            return None
        prompt = "\n\n".join(parts)
        data = prompt.encode("utf-8", "surrogatepass")
        if len(data) > MAX_PROMPT_BYTES:
            prompt = data[:MAX_PROMPT_BYTES].decode("utf-8", "ignore") + \
                "\n[agentorch: the rest of this prompt was cut: it was too long for one turn]"
        return prompt

    def stopped(self) -> str | None:
        """Why the agent may not go on whatever the turn said (e.g. its budget)."""
        return self.socket.stopped if self.socket is not None else None

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None
        if self.paths is not None:  # the engine's files; made again on resume
            shutil.rmtree(self.paths.ctl, ignore_errors=True)

    async def _turn_until_done(self, prompt: str) -> TurnOutcome:
        while True:
            outcome = await self._turn(prompt)
            if (why := self.stopped()) is not None:
                raise BrainError(why)
            if not outcome.is_error:
                return outcome
            await self._ask_retry_or_stop(outcome.error)

    async def _ask_retry_or_stop(self, problem: str) -> None:
        ctx = self.ctx
        await ctx.emit(ev.NOTICE, level="error", text=f"{ctx.agent_id}: {problem}")
        answer = await ctx.ask_person(
            ik.DEBUG_REQUEST, f"{ctx.agent_id} stopped: {problem}. Answer `retry` to run the "
            "turn again, or `stop` to stop the agent.", problem[:120], options=["retry", "stop"])
        if str(answer.get("text", "")).strip().lower() != "retry":
            raise BrainError(problem)

    # -- one turn ---------------------------------------------------------------------------------
    async def _turn(self, prompt: str) -> TurnOutcome:
        self.turns += 1
        self._outcome = TurnOutcome()
        self._garbage = 0
        await self._save(True, prompt)
        argv, env = self.command(prompt)
        line = _shell_line(argv, env)
        opts = self.options
        buffer = bytearray()
        self._last_line = time.monotonic()

        async def on_output(chunk: str) -> None:
            self._last_line = time.monotonic()
            buffer.extend(chunk.encode("utf-8", "surrogatepass"))
            while (cut := buffer.find(b"\n")) >= 0:
                raw = bytes(buffer[:cut])
                del buffer[:cut + 1]
                await self._line(raw.decode("utf-8", "replace"))
            if len(buffer) > 8 * 1024 * 1024:  # a line this long is garbage
                del buffer[:]
                await self._line("[agentorch: an output line over 8 MiB was dropped]")

        run = asyncio.ensure_future(self.ctx.sandbox.exec(line, opts.turn_timeout, on_output))
        try:
            while True:
                done, _ = await asyncio.wait({run}, timeout=min(5.0, opts.idle_timeout))
                if done:
                    break
                if time.monotonic() - self._last_line > opts.idle_timeout:
                    run.cancel()
                    with contextlib.suppress(BaseException):
                        await run
                    return self._failed(f"{self.label} printed nothing for "
                                        f"{opts.idle_timeout:g}s and was stopped (hung?)")
            result = run.result()
        except BaseException:
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
            raise
        if buffer:
            await self._line(bytes(buffer).decode("utf-8", "replace"))
        outcome = self._outcome
        outcome.exit_code = result.exit_code
        if self._garbage > MAX_GARBAGE_SHOWN:
            await self.ctx.emit(ev.NOTICE, level="warning", text=(
                f"{self.ctx.agent_id}: {self._garbage - MAX_GARBAGE_SHOWN} more lines of "
                f"{self.label} that were not JSON were not shown"))
        if result.timed_out:
            return self._failed(f"{self.label} turn ran past its turn_timeout of "
                                f"{opts.turn_timeout:g}s and was stopped")
        if getattr(result, "interrupted", False):
            return self._failed(f"the sandbox session ended while {self.label} ran")
        if not outcome.result_seen:
            tail = " | ".join(outcome.tail[-TAIL_LINES:])[:300]
            return self._failed(f"{self.label} ended (exit code {result.exit_code}) without a "
                                f"result line{': ' + tail if tail else ''}")
        await self._save(False)
        return outcome

    def _failed(self, why: str) -> TurnOutcome:
        outcome = self._outcome
        outcome.is_error = True
        outcome.error = why
        return outcome

    async def _line(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            if text in self.chatter:
                return
            self._garbage += 1
            self._outcome.tail = [*self._outcome.tail[-TAIL_LINES:], text[:200]]
            if self._garbage <= MAX_GARBAGE_SHOWN:
                await self.ctx.emit(ev.CONSOLE, kind="output", text=text[:2000] + "\n")
            return
        await self.handle(clean_value(obj))

    # -- what handle() reports -------------------------------------------------------------------------
    async def got_session(self, session_id: Any) -> None:
        if isinstance(session_id, str) and 0 < len(session_id) <= 200 and \
                session_id != self.session_id:
            self.session_id = session_id
            await self._save(True)

    async def got_text(self, text: str) -> None:
        if text.strip():
            await self.ctx.emit(ev.ASSISTANT_TEXT, text=text, turn=self.turns, final=True)

    async def got_tool_call(self, call_id: str, name: str, args: Any) -> None:
        call_id, name = str(call_id)[:200], str(name)[:200]
        self._tool_names[call_id] = name
        if len(self._tool_names) > 10_000:
            self._tool_names.pop(next(iter(self._tool_names)))
        await self.ctx.emit(ev.TOOL_CALL, call_id=call_id, tool=name,
                            args=args if isinstance(args, dict) else {"input": args})
        if hasattr(self.ctx, "tool_calls"):
            self.ctx.tool_calls += 1  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            await self.ctx.set_status(ev.RUNNING, name)  # type: ignore[attr-defined]
        if name.rsplit("__", 1)[-1] == "finish" and name.startswith("mcp__agentorch"):
            self._outcome.finish_summary = str((args or {}).get("summary") or "")

    async def got_tool_result(self, call_id: str, content: Any, is_error: bool) -> None:
        call_id = str(call_id)[:200]
        name = self._tool_names.pop(call_id, "?")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        if len(content) > MAX_RESULT_CHARS:
            content = content[:MAX_RESULT_CHARS] + f"\n[... {len(content) - MAX_RESULT_CHARS} " \
                "more characters not kept]"
        await self.ctx.emit(ev.TOOL_RESULT, call_id=call_id, tool=name, is_error=bool(is_error),
                            result=content)
        if hasattr(self.ctx, "steps_done"):
            self.ctx.steps_done += 1  # type: ignore[attr-defined]
        if is_error and name.startswith("mcp__agentorch") and name.endswith("__finish"):
            self._outcome.finish_summary = None

    async def got_usage(self, usage: Usage) -> None:
        await self.ctx.record_usage(usage)

    def got_result(self, *, text: str, is_error: bool, error: str = "", done: bool = False) -> None:
        outcome = self._outcome
        outcome.result_seen = True
        outcome.text = text.strip()
        outcome.done = done
        if is_error:
            outcome.is_error = True
            outcome.error = error or f"{self.label} reported an error: {text.strip()[:200]}"


def _message_text(content: dict[str, Any]) -> str:
    from engine.brains.base import InboxMessage

    return inbox_text(InboxMessage(str(content.get("id", "")), str(content.get("from", "")),
                                   str(content.get("text", "")), str(content.get("kind", "notify")),
                                   content.get("reply_to")))


def _shell_line(argv: list[str], env: dict[str, str]) -> str:
    """One `sh -c` line: the environment given to the CLI, then exec the CLI."""
    assigns = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
    return "exec env " + " ".join([*assigns, *(shlex.quote(a) for a in argv)])
