"""The model APIs a CLI agent's requests are forwarded to, and the usage their answers carry.

Two wire formats, one meter:

* Anthropic's Messages API (Claude Code): ``POST /v1/messages``, the key in
  ``x-api-key``; usage in the ``message_start`` / ``message_delta`` events of a stream
  (a later event repeats or updates a count) or in the ``usage`` of a JSON reply.
* OpenAI's Responses API (Codex): ``POST /responses`` under the base URL (which holds
  the ``/v1``), the key as ``Authorization: Bearer``; usage in the ``response`` of the
  stream's last event (``response.completed``, ``.incomplete`` or ``.failed``) or of a
  JSON reply.  OpenAI counts cached input inside ``input_tokens``; it is split out here.

Counts are never trusted blindly (:func:`engine.budget.checked_count`: a negative,
non-integer or absurd count counts as the ceiling), and they are read by the engine from
the upstream's answer, never from anything the agent says.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from engine.brains.base import Usage
from engine.budget import checked_count

#: a body kept to read its usage (a JSON reply) is at most this long
MAX_BODY = 32 * 1024 * 1024
MAX_SSE_LINE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelApi:
    """One model API as the per-agent model socket serves it."""

    name: str
    vendor: str
    default_upstream: str
    #: the paths a client may POST, as it sends them (before the upstream's own path)
    paths: tuple[str, ...]
    #: the one path whose answers carry usage (the others are forwarded unmetered)
    metered: str
    #: dropped from the client's path before the upstream base is put in front
    local_prefix: str = ""
    key_header: str = "x-api-key"
    key_prefix: str = ""

    def upstream_path(self, path: str) -> str:
        return path[len(self.local_prefix):] if path.startswith(self.local_prefix) else path

    def error_body(self, message: str, kind: str) -> bytes:
        if self is OPENAI:
            return json.dumps({"error": {"message": message, "type": kind, "code": kind}}).encode()
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()

    def refusal(self, body: bytes) -> str | None:
        """Why a request is not forwarded although its path is (None: forward it).

        A Responses request with ``background: true`` is answered at once and runs on
        upstream, its usage only to be polled for later: it could spend unmetered."""
        if self is not OPENAI:
            return None
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return "the request body is not JSON"
        if isinstance(request, dict) and request.get("background"):
            return "background responses are not forwarded (their usage cannot be metered)"
        return None


ANTHROPIC = ModelApi("Anthropic Messages API", "Anthropic", "https://api.anthropic.com",
                     ("/v1/messages", "/v1/messages/count_tokens"), "/v1/messages")
OPENAI = ModelApi("OpenAI Responses API", "OpenAI", "https://api.openai.com/v1", ("/v1/responses",),
                  "/v1/responses", local_prefix="/v1", key_header="authorization",
                  key_prefix="Bearer ")


class UsageMeter:
    """The usage of one response, from its SSE events or its JSON body (either API)."""

    def __init__(self) -> None:
        self.model = ""
        self.counts = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                       "cache_creation_input_tokens": 0}
        self.problems: list[str] = []
        self.seen = False
        self._buffer = b""

    def feed_sse(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_SSE_LINE:  # one line this long is not an event we read
            self._buffer = b""
        for line in lines:
            if line.startswith(b"data:"):
                with contextlib.suppress(ValueError):
                    self.event(json.loads(line[5:]))

    def feed_json(self, body: bytes) -> None:
        with contextlib.suppress(ValueError):
            self.event(json.loads(body))

    def event(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            self._model(message.get("model"))
            self._take(message.get("usage"))
        elif kind == "message_delta":
            self._take(event.get("usage"))
        elif kind == "message":  # an Anthropic JSON (not streamed) reply
            self._model(event.get("model"))
            self._take(event.get("usage"))
        elif kind in ("response.completed", "response.incomplete", "response.failed") \
                and isinstance(event.get("response"), dict):
            self._response(event["response"])
        elif event.get("object") == "response":  # an OpenAI JSON reply
            self._response(event)

    def _model(self, model: Any) -> None:
        if isinstance(model, str) and model:
            self.model = model[:200]

    def _response(self, response: dict[str, Any]) -> None:
        self._model(response.get("model"))
        usage = response.get("usage")
        if not isinstance(usage, dict):
            return
        details = usage.get("input_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        given, problem = checked_count(usage.get("input_tokens"))
        cached_count, cached_problem = checked_count(cached)
        if problem:
            self.problems.append(f"input_tokens {problem}")
        if cached_problem:
            self.problems.append(f"cached_tokens {cached_problem}")
        # cached input is cheaper: a count that is wrong, or above the input, counts as none
        cached_count = 0 if cached_problem or cached_count > given else cached_count
        self._take({"input_tokens": given - cached_count,
                    "output_tokens": usage.get("output_tokens"),
                    "cache_read_input_tokens": cached_count})

    def _take(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        self.seen = True
        for name in self.counts:
            if name in usage:  # a later event repeats or updates the count
                count, problem = checked_count(usage[name])
                if problem:
                    self.problems.append(f"{name} {problem}")
                self.counts[name] = count

    def usage(self) -> Usage:
        c = self.counts
        return Usage(c["input_tokens"], c["output_tokens"], c["cache_read_input_tokens"],
                     c["cache_creation_input_tokens"], self.model)
