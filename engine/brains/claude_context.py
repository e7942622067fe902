"""The conversation of a Claude agent: its blocks, cache breakpoints and shortening.

Messages are plain dicts in the Messages API shape, so they are stored as JSON
(``save_conversation``) and sent as they are.

Context shortening: when the last request plus the reply came near the model's context
window, every tool result (and every long string argument of a tool call, e.g. the
`content` of a write_file) older than the newest ``KEEP_RECENT`` messages is cut to its
first lines plus a marker.  Blocks are edited, never removed, so each tool_use keeps its
tool_result and the conversation stays valid.  It is done in one sweep, not a little
at each turn, because each edit invalidates the prompt cache from that point on.
"""

from __future__ import annotations

import json
from typing import Any

from engine.brains.base import ToolResult

Message = dict[str, Any]
EPHEMERAL = {"type": "ephemeral"}

CONTEXT_WINDOW = 200_000  # tokens: 4.5 and older models, and any model we do not know
#: models with a 1M-token window (the 5.x generation, Opus 4.6+ and Sonnet 4.6)
MILLION_WINDOW = ("claude-fable", "claude-mythos", "claude-opus-5", "claude-sonnet-5",
                  "claude-haiku-5", "claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8",
                  "claude-sonnet-4-6")
SHORTEN_AT = 0.8  # fraction of the window (request + reply) that triggers a sweep
KEEP_RECENT = 6  # newest messages never shortened
KEEP_CHARS = 400  # what is kept of a shortened tool result
LONG_ARG = 600  # tool_use string arguments longer than this are shortened
MAX_RESULT_CHARS = 60_000  # a single tool result sent to the model, at most


def tool_result_block(result: ToolResult) -> dict[str, Any]:
    text = result.as_text()
    if len(text) > MAX_RESULT_CHARS:
        text = (text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS} more "
                "characters not shown]")
    if result.interrupted:
        text = ("[the run stopped while this call ran; check the state before repeating it]\n"
                + text)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": result.call_id,
                             "content": text}
    if result.is_error:
        block["is_error"] = True
    return block


def missing_result_block(call_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "is_error": True,
            "content": "the run stopped around this call and its result was not kept; check "
                       "the state before calling it again"}


def cut_off_result_block(call_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "is_error": True,
            "content": "not run: your reply was cut off (max_tokens) before the arguments "
                       "of the calls in it were complete"}


def pending_tool_ids(messages: list[Message]) -> list[str]:
    """The tool_use ids of the last assistant message, if it is the last message."""
    if not messages or messages[-1]["role"] != "assistant":
        return []
    return [b["id"] for b in messages[-1]["content"] if b.get("type") == "tool_use"]


def with_cache_breakpoints(messages: list[Message], count: int = 2) -> list[Message]:
    """A copy whose last ``count`` user messages end with a cache_control breakpoint.

    The newest breakpoint writes the conversation so far to the cache; the one before
    it is where this request reads from (the API looks back only ~20 blocks).  The
    stored conversation is left untouched.
    """
    out = list(messages)
    marked = 0
    for i in range(len(out) - 1, -1, -1):
        if marked == count:
            break
        msg = out[i]
        content = msg["content"]
        if msg["role"] != "user" or not content:
            continue
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        content = list(content)
        content[-1] = {**content[-1], "cache_control": EPHEMERAL}
        out[i] = {**msg, "content": content}
        marked += 1
    return out


def context_window(model: str) -> int:
    from engine.pricing import canonical_model

    name = canonical_model(model)
    return 1_000_000 if name.startswith(MILLION_WINDOW) else CONTEXT_WINDOW


def needs_shortening(request_tokens: int, max_tokens: int, window: int) -> bool:
    return request_tokens + max_tokens >= SHORTEN_AT * window


def shorten(messages: list[Message], keep_recent: int = KEEP_RECENT) -> int:
    """Shorten old tool results and long tool arguments in place; characters removed."""
    removed = 0
    for msg in messages[:max(0, len(messages) - keep_recent)]:
        content = msg["content"]
        if isinstance(content, str):
            continue
        for i, block in enumerate(content):
            kind = block.get("type")
            if kind == "tool_result":
                text = _result_text(block)
                if len(text) > KEEP_CHARS + 200:  # a shortened one is never cut again
                    content[i] = {**block, "content": _cut(text)}
                    removed += len(text) - len(content[i]["content"])
            elif kind == "tool_use":
                new_input, cut = _shorten_args(block.get("input") or {})
                if cut:
                    content[i] = {**block, "input": new_input}
                    removed += cut
    return removed


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return json.dumps(content)


def _cut(text: str) -> str:
    return (text[:KEEP_CHARS] + f"\n[... {len(text) - KEEP_CHARS} characters shortened to save "
            "context; run the tool again if you need them]")


def _shorten_args(args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    out, cut = {}, 0
    for key, value in args.items():
        if isinstance(value, str) and len(value) > LONG_ARG:
            out[key] = f"[{len(value)} characters, shortened to save context]"
            cut += len(value) - len(out[key])
        else:
            out[key] = value
    return out, cut
