"""A fake of the Anthropic Messages API: a real HTTP server on 127.0.0.1.

It speaks ``POST /v1/messages`` with SSE streaming (message_start, content_block_start /
delta (text_delta, input_json_delta) / stop, message_delta with usage, message_stop) and
plain JSON, plays scripted replies per agent, can fail a given number of times with any
status (429/529/500 with ``retry-after-ms: 1`` so the SDK's retries are fast, 401, 400,
a spending limit) or break a stream with an ``error`` event, and records every request.

Replies are routed by agent: the system prompt of a Claude agent starts with
``You are <id>``; ``push(agent_id, ...)`` queues replies for that agent (``None``: any).
When an agent's queue is empty the server answers with a ``finish`` tool call, and counts
it in ``exhausted`` so a test can check that its script was long enough.

    with FakeAnthropic() as api:
        api.push("coder", Turn([text("Running it."), tool("run_command", command="ls")]))
        os.environ["ANTHROPIC_BASE_URL"] = api.base_url
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Text:
    text: str
    deltas: int = 3  # streamed in this many text_delta events


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str | None = None
    deltas: int = 2  # input_json_delta events


@dataclass
class Thinking:
    thinking: str
    signature: str = "sig-fake"


def text(t: str, deltas: int = 3) -> Text:
    return Text(t, deltas)


def tool(name: str, _id: str | None = None, **input: Any) -> ToolUse:
    return ToolUse(name, input, _id)


@dataclass
class Turn:
    """One successful reply."""

    blocks: list[Text | ToolUse | Thinking]
    stop_reason: str | None = None  # default: tool_use if a tool is called, else end_turn
    input_tokens: int | None = None  # default: request bytes / 4
    output_tokens: int | None = None  # default: reply characters / 4
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    break_with: str | None = None  # an error type sent mid-stream instead of finishing
    wait: threading.Event | None = None  # hold the reply until this is set
    keep_json_open: bool = False  # cut the last tool's JSON short (max_tokens)
    #: sent as the usage object exactly as given (any values, keys left out are missing),
    #: instead of the token fields above; message_delta repeats its output_tokens
    raw_usage: dict[str, Any] | None = None
    model: str | None = None  # the model name the reply claims (default: the requested one)


@dataclass
class Failure:
    """An HTTP error, ``times`` times in a row."""

    status: int
    error_type: str
    message: str = "fake failure"
    times: int = 1
    error_code: str | None = None  # error.details.error_code (spending limits)
    headers: dict[str, str] = field(default_factory=lambda: {"retry-after-ms": "1"})


def overloaded(times: int = 1) -> Failure:
    return Failure(529, "overloaded_error", "Overloaded", times)


def rate_limited(times: int = 1) -> Failure:
    return Failure(429, "rate_limit_error", "Number of requests has exceeded your rate limit",
                   times)


def bad_key() -> Failure:
    return Failure(401, "authentication_error", "invalid x-api-key", headers={})


def bad_request(message: str = "messages: roles must alternate") -> Failure:
    return Failure(400, "invalid_request_error", message, headers={})


def spend_limit() -> Failure:
    return Failure(429, "rate_limit_error", "You have reached your specified API usage limits",
                   error_code="enforced_spend_limit_reached",
                   headers={"x-should-retry": "false"})


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    agent: str | None
    status: int = 200

    @property
    def system_text(self) -> str:
        system = self.body.get("system") or ""
        if isinstance(system, str):
            return system
        return "".join(b.get("text", "") for b in system)


_AGENT = re.compile(r"You are ([A-Za-z][A-Za-z0-9_-]*)")


class FakeAnthropic:
    def __init__(self, flush_every: int = 1) -> None:
        self.flush_every = flush_every  # SSE events written per socket write
        self.requests: list[Recorded] = []
        self.exhausted = 0
        self._queues: dict[str | None, deque[Turn | Failure]] = {}
        #: when set, answers every request from its body instead of the queues
        self.responder: Callable[[dict[str, Any]], Turn | Failure] | None = None
        self.record = True  # keep the requests (off for long benchmarks)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        # stop() waits for serve_forever's next poll: 0.5 s by default, each test
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-anthropic", kwargs={"poll_interval": 0.02})

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- script -----------------------------------------------------------------------------
    def push(self, agent: str | None, *items: Turn | Failure) -> None:
        with self._lock:
            queue = self._queues.setdefault(agent, deque())
            for item in items:
                if isinstance(item, Failure):
                    queue.extend([item] * item.times)
                else:
                    queue.append(item)

    def requests_of(self, agent: str) -> list[Recorded]:
        return [r for r in self.requests if r.agent == agent and r.status == 200]

    def _next(self, agent: str | None) -> Turn | Failure:
        with self._lock:
            for key in (agent, None):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
            self.exhausted += 1
        return Turn([tool("finish", summary="fake server: script exhausted")])

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"


def _make_handler(api: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()  # small SSE writes must not wait for delayed ACKs (Nagle)
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            if self.path.split("?")[0] != "/v1/messages":
                self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                           "message": f"no route {self.path}"}})
                return
            system = Recorded("", {}, body, None).system_text
            match = _AGENT.search(system[:200])
            agent = match.group(1) if match else None
            if agent not in api._queues:  # a CLI's own prompt first, agentorch's appended
                agent = next((m.group(1) for m in _AGENT.finditer(system)
                              if m.group(1) in api._queues), agent)
            item = api.responder(body) if api.responder else api._next(agent)
            if api.record:
                api.requests.append(Recorded(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, agent,
                    item.status if isinstance(item, Failure) else 200))
            if isinstance(item, Failure):
                error: dict[str, Any] = {"type": item.error_type, "message": item.message}
                if item.error_code:
                    error["details"] = {"error_code": item.error_code}
                self._json(item.status, {"type": "error", "error": error}, item.headers)
                return
            if item.wait is not None:
                item.wait.wait(30)
            message, events = _render(api, item, body, len(raw))
            if body.get("stream"):
                self._sse(events)
            else:
                self._json(200, message)

        def _json(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", api.next_id("req"))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _sse(self, events: list[tuple[str, dict[str, Any]]]) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("request-id", api.next_id("req"))
            self.end_headers()
            lines = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
            step = max(1, api.flush_every)
            for i in range(0, len(lines), step):
                chunk = "".join(lines[i:i + step]).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


def _split(s: str, n: int) -> list[str]:
    n = max(1, min(n, len(s))) if s else 1
    size = -(-len(s) // n) if s else 0
    return [s[i:i + size] for i in range(0, len(s), size)] if s else [""]


def _render(api: FakeAnthropic, turn: Turn, body: dict[str, Any],
            request_bytes: int) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The reply as a JSON message and as its SSE events."""
    model = turn.model or body.get("model", "claude-sonnet-5-5")
    content: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    chars = 0
    for index, block in enumerate(turn.blocks):
        if isinstance(block, Text):
            content.append({"type": "text", "text": block.text})
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}))
            for piece in _split(block.text, block.deltas):
                events.append(("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": piece}}))
            chars += len(block.text)
        elif isinstance(block, Thinking):
            content.append({"type": "thinking", "thinking": block.thinking,
                            "signature": block.signature})
            events.append(("content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
            for piece in _split(block.thinking, 2):
                events.append(("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "thinking_delta", "thinking": piece}}))
            events.append(("content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "signature_delta", "signature": block.signature}}))
            chars += len(block.thinking)
        else:
            call_id = block.id or api.next_id("toolu")
            content.append({"type": "tool_use", "id": call_id, "name": block.name,
                            "input": block.input})
            events.append(("content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": call_id, "name": block.name,
                                  "input": {}}}))
            raw = json.dumps(block.input)
            if turn.keep_json_open and index == len(turn.blocks) - 1:
                raw = raw[: len(raw) // 2]
            for piece in _split(raw, block.deltas):
                events.append(("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}))
            chars += len(raw)
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        if turn.break_with and index == 0:
            events.append(("error", {"type": "error", "error": {
                "type": turn.break_with, "message": "fake mid-stream failure"}}))
            break
    stop = turn.stop_reason or (
        "tool_use" if any(isinstance(b, ToolUse) for b in turn.blocks) else "end_turn")
    usage = {
        "input_tokens": turn.input_tokens if turn.input_tokens is not None else request_bytes // 4,
        "output_tokens": turn.output_tokens if turn.output_tokens is not None else chars // 4 + 1,
        "cache_read_input_tokens": turn.cache_read_tokens,
        "cache_creation_input_tokens": turn.cache_write_tokens,
    }
    start_usage: dict[str, Any] = {**usage, "output_tokens": 1}
    delta_usage: dict[str, Any] = {"output_tokens": usage["output_tokens"]}
    if turn.raw_usage is not None:
        usage = start_usage = dict(turn.raw_usage)
        delta_usage = {k: v for k, v in usage.items() if k == "output_tokens"}
    message = {"id": api.next_id("msg"), "type": "message", "role": "assistant",
               "model": model, "content": content, "stop_reason": stop,
               "stop_sequence": None, "usage": usage}
    start = {**message, "content": [], "stop_reason": None, "usage": start_usage}
    head = [("message_start", {"type": "message_start", "message": start}),
            ("ping", {"type": "ping"})]
    if turn.break_with:
        return message, head + events
    tail = [("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": delta_usage}),
            ("message_stop", {"type": "message_stop"})]
    return message, head + events + tail


# -- helpers for the tests ---------------------------------------------------------------
MODEL = "claude-sonnet-5-5"


def claude_agent(agent_id: str, **fields: Any) -> dict[str, Any]:
    """An agent dict for engine_support.make_team that uses the Claude brain."""
    return {"id": agent_id, "model": MODEL, "script": None, "max_retries": 3, **fields}


def fake_api_fixture():
    """A pytest fixture body: the fake server, with the SDK pointed at it."""
    import pytest

    @pytest.fixture
    def api(monkeypatch: pytest.MonkeyPatch):
        with FakeAnthropic() as fake:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
            yield fake

    return api
