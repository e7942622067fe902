"""A fake of OpenAI's Responses API (what `codex exec` calls): a real HTTP server on 127.0.0.1.

``POST /v1/responses`` answers with SSE (``response.created``, one
``response.output_item.done`` per output item, ``response.completed`` with usage),
playing the queued replies in order; every request is recorded.  Codex reaches it through
the engine's model socket (``OPENAI_BASE_URL`` = :attr:`FakeResponses.base_url`), or, with
the key passed in, as a custom model provider (:meth:`FakeResponses.provider_args`).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text",
                                                                  "text": text}]}


def exec_command(cmd: str, call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "name": "exec_command", "call_id": call_id,
            "arguments": json.dumps({"cmd": cmd})}


class FakeResponses:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.replies: deque[list[dict[str, Any]]] = deque()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def provider_args(self) -> list[str]:
        return ["-c", f'model_providers.fake={{name="fake", base_url="{self.base_url}", '
                      'env_key="OPENAI_API_KEY", wire_api="responses"}',
                "-c", "model_provider=fake"]

    def push(self, *items: dict[str, Any]) -> None:
        self.replies.append(list(items))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self, model: str = "") -> list[dict[str, Any]]:
        items = self.replies.popleft() if self.replies else [message("fake: script exhausted")]
        rid = f"resp_{next(self._ids)}"
        out: list[dict[str, Any]] = [{"type": "response.created", "response": {"id": rid}}]
        for n, item in enumerate(items):
            out.append({"type": "response.output_item.done", "output_index": n,
                        "item": {"id": f"item_{rid}_{n}", **item}})
        out.append({"type": "response.completed", "response": {"id": rid, "model": model, "usage": {
            "input_tokens": 1000, "input_tokens_details": {"cached_tokens": 400},
            "output_tokens": 50, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 1050}}})
        return out


def serve_responses(monkeypatch, key: str | None = None) -> Iterator[FakeResponses]:
    """For a fixture: a fake Responses API as the engine's OpenAI upstream (with ``key``
    as its API key when given), stopped afterwards."""
    fake = FakeResponses()
    if key is not None:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    yield fake
    fake.stop()


def _handler(api: FakeResponses) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            request = json.loads(body or b"{}")
            api.requests.append(request)
            api.paths.append(self.path)
            api.headers.append({k.lower(): v for k, v in self.headers.items()})
            data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
                           for e in api.events(str(request.get("model") or ""))).encode()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
