"""The Claude brain: the agent loop's decisions come from the Messages API.

Each ``next_calls`` sends one request (streamed) and turns the reply's ``tool_use``
blocks into tool calls; their results go back as ``tool_result`` blocks in the next
user turn, together with any inbox messages that arrived meanwhile.

* Prompt caching: the tools and the system prompt (composed once, so byte-stable) carry
  ``cache_control``, and so do the newest user turns, so each request reads the whole
  conversation so far from the cache.
* A turn with text but no tool call does not end the agent at once: it is nudged once
  ("call finish when done, or wait_for_message"); a second text-only turn in a row ends
  it as done with that text as its summary.
* Errors: the SDK retries 408/409/429/5xx/529 (``max_retries``, default 4).  What is
  left (a refused key, a bad request, a spending limit, retries exhausted) sets a clear
  status and raises a blocking `debug_request` interrupt: answer ``retry`` to try again
  (the key is read again), anything else stops the agent with that message.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import anthropic

from engine import events as ev
from engine import interrupts as ik
from engine import shared_context
from engine.brains import claude_context as cc
from engine.brains import claude_errors as errors
from engine.brains.base import Brain, BrainContext, BrainError, ToolCall, ToolResult
from engine.brains.claude_prompt import (
    CUT_OFF,
    MORE_WAITING,
    NUDGE,
    RESUMED,
    first_turn,
    inbox_text,
    system_prompt,
)
from engine.brains.claude_stream import Reply, ReplyAssembler
from engine.config import AgentConfig, TeamConfig
from memory.text_safety import clean_value

DEFAULT_MAX_TOKENS = 16_384  # adaptive thinking counts against it
DEFAULT_MAX_RETRIES = 4
STREAM_RETRY_DELAY = 0.5  # seconds, doubled each time, for errors inside a stream


class ClaudeBrain(Brain):
    def __init__(self, agent: AgentConfig, team: TeamConfig) -> None:
        self.agent = agent
        self.team = team
        self.model = agent.model or "claude-sonnet-5-5"
        self.max_tokens = agent.max_tokens or DEFAULT_MAX_TOKENS
        self.max_retries = agent.max_retries if agent.max_retries is not None else DEFAULT_MAX_RETRIES
        self.window = agent.context_window or cc.context_window(self.model)
        self.client: anthropic.AsyncAnthropic | None = None
        self.messages: list[dict[str, Any]] = []
        self.system: list[dict[str, Any]] = []
        self.tools: list[dict[str, Any]] = []
        self.summary = ""
        self.turns = 0
        self._started = False
        self._nudged = False
        self._unsaved = False

    # -- setup ----------------------------------------------------------------------------
    async def start(self, ctx: BrainContext) -> None:
        await super().start(ctx)
        self.client = self._make_client()
        shared = await shared_context.prompt_for(ctx)
        self.system = [{"type": "text", "text": system_prompt(ctx, self.team.name, shared),
                        "cache_control": cc.EPHEMERAL}]
        self.tools = [t.to_anthropic() for t in ctx.tools]
        if self.tools:
            self.tools[-1] = {**self.tools[-1], "cache_control": cc.EPHEMERAL}
        self.messages = clean_value(await ctx.load_conversation() or [])

    def _make_client(self) -> anthropic.AsyncAnthropic:
        conf = self.team.anthropic
        problem = errors.api_key_problem(self.team)
        if problem:
            raise BrainError(problem)
        return anthropic.AsyncAnthropic(api_key=os.environ[conf.api_key_env],
                                        base_url=os.environ.get(conf.base_url_env) or None,
                                        max_retries=self.max_retries)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    # -- the loop ---------------------------------------------------------------------------
    async def next_calls(self, results: list[ToolResult]) -> list[ToolCall]:
        self._add_user_turn(results)
        while True:
            reply = await self._request()
            # a model's "\ud800" escape must not make the next request unencodable
            self.messages.append({"role": "assistant", "content": clean_value(reply.content())})
            await self.ctx.save_conversation(self.messages)
            await self.ctx.record_usage(reply.usage)  # may pause on a budget
            await self._keep_within_context(reply)
            if reply.bad_json:  # cut off inside a tool call: run nothing of this reply
                self._append_user([cc.cut_off_result_block(b["id"]) for b in reply.tool_uses]
                                  + [{"type": "text", "text": CUT_OFF.format(
                                      max_tokens=self.max_tokens)}])
                continue
            if reply.tool_uses:
                self._nudged = False
                return [ToolCall(b["id"], b["name"], b["input"]) for b in reply.tool_uses]
            if reply.stop_reason == "max_tokens":
                self._append_user([{"type": "text", "text": CUT_OFF.format(
                    max_tokens=self.max_tokens)}])
            elif self._nudged or "finish" not in {t["name"] for t in self.tools}:
                self.summary = reply.text or "ended without a summary"
                return []
            else:
                self._nudged = True
                self._append_user([{"type": "text", "text": NUDGE}])

    def _add_user_turn(self, results: list[ToolResult]) -> None:
        """Tool results (every pending tool_use gets one), then the inbox."""
        blocks: list[dict[str, Any]] = []
        if not self._started:
            self._started = True
            if not self.messages:
                blocks.append({"type": "text", "text": first_turn(self.ctx)})
        by_id = {r.call_id: r for r in results}
        for call_id in cc.pending_tool_ids(self.messages):
            result = by_id.get(call_id)
            blocks.append(cc.tool_result_block(result) if result else cc.missing_result_block(call_id))
        self._append_user(blocks)
        if self.messages[-1]["role"] == "assistant":  # resumed after a text-only reply
            self._append_user([{"type": "text", "text": RESUMED}])

    def _append_user(self, blocks: list[dict[str, Any]], take_inbox: bool = False) -> None:
        """Add to the user turn; the inbox is read once per request (a bounded part)."""
        msgs = self.ctx.take_messages() if take_inbox else []
        inbox = [{"type": "text", "text": inbox_text(m)} for m in msgs]
        changed = shared_context.changed_since_seen(self.ctx) if take_inbox else ""
        if changed:
            inbox.insert(0, {"type": "text", "text": changed})
        if inbox and self.ctx.messages_waiting:
            inbox.append({"type": "text", "text": MORE_WAITING.format(
                count=self.ctx.messages_waiting)})
        blocks = blocks + inbox
        if not blocks:
            return
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)  # e.g. resumed before a request
        else:
            self.messages.append({"role": "user", "content": blocks})
        self._unsaved = self._unsaved or bool(inbox)

    # -- requests ---------------------------------------------------------------------------
    async def _request(self) -> Reply:
        """One streamed request; transient stream errors are retried, the rest asked about."""
        stream_failures = 0
        while True:
            self._append_user([], take_inbox=True)  # what arrived while we waited
            if self._unsaved:  # inbox messages are consumed with the conversation that holds
                # them; tool results need no save here (resume pairs them from the events)
                await self.ctx.save_conversation(self.messages)
                self._unsaved = False
            self.turns += 1
            assembler = ReplyAssembler(self.ctx.emit, self.turns)
            try:
                await self._stream(assembler)
                return assembler.reply
            except anthropic.APIStatusError as exc:
                await assembler.close()
                if (assembler.started and stream_failures < self.max_retries
                        and errors.stream_error_type(exc) in errors.TRANSIENT_STREAM_ERRORS):
                    stream_failures += 1
                    await self.ctx.emit(ev.NOTICE, level="warning", text=(
                        f"the reply stream broke ({errors.stream_error_type(exc)}); retrying "
                        f"({stream_failures}/{self.max_retries})"))
                    await asyncio.sleep(STREAM_RETRY_DELAY * 2 ** (stream_failures - 1))
                    continue
                await self._ask_retry_or_stop(exc)
            except anthropic.APIError as exc:
                await assembler.close()
                await self._ask_retry_or_stop(exc)
            stream_failures = 0

    async def _stream(self, assembler: ReplyAssembler) -> None:
        assert self.client is not None
        stream = await self.client.messages.create(
            model=self.model, max_tokens=self.max_tokens, system=self.system,
            tools=self.tools, messages=cc.with_cache_breakpoints(self.messages), stream=True)
        async with stream:
            async for event in stream:
                await assembler.feed(event)

    async def _ask_retry_or_stop(self, exc: BaseException) -> None:
        """Park on a debug_request: `retry` returns (to try again), anything else stops."""
        problem = errors.describe(exc, self.model, self.team.anthropic.api_key_env,
                                  self.max_retries)
        await self.ctx.emit(ev.NOTICE, level="error", text=f"{self.ctx.agent_id}: {problem}")
        answer = await self.ctx.ask_person(
            ik.DEBUG_REQUEST, f"{self.ctx.agent_id} stopped: {problem}. Answer `retry` to try "
            "again, or `stop` to stop the agent.", f"API error: {problem}"[:120],
            options=["retry", "stop"])
        if str(answer.get("text", "")).strip().lower() != "retry":
            raise BrainError(problem)
        if self.client is not None:
            await self.client.close()
        self.client = self._make_client()

    # -- context -----------------------------------------------------------------------------
    async def _keep_within_context(self, reply: Reply) -> None:
        used = reply.request_tokens + reply.output_tokens
        if not cc.needs_shortening(used, self.max_tokens, self.window):
            return
        removed = cc.shorten(self.messages)
        if removed:
            await self.ctx.save_conversation(self.messages)
        await self.ctx.emit(ev.NOTICE, level="info", text=(
            f"{self.ctx.agent_id}: the conversation is near the context limit ({used:,} of "
            f"{self.window:,} tokens); shortened old tool results by {removed:,} characters"))
