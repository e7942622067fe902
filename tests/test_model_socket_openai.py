"""The model socket for the OpenAI Responses API (Codex): the key added outside, usage read
from the upstream's answer, and an agent's ways around the meter closed.

Real sockets and a real HTTP upstream on 127.0.0.1; the agent is a raw client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from engine.brains.base import Usage
from engine.brains.model_api import OPENAI
from engine.brains.model_socket import ModelSocket
from tests.fake_openai import FakeResponses, message

KEY = "sk-openai-socket-test"


@pytest.fixture
def upstream():
    fake = FakeResponses()
    yield fake
    fake.stop()


async def _socket(tmp_path: Path, base_url: str, charged: list[Usage]) -> ModelSocket:
    async def charge(usage: Usage) -> None:
        charged.append(usage)

    sock = ModelSocket(str(tmp_path / "model.sock"), charge, api_key=KEY, upstream=base_url,
                       api=OPENAI)
    await sock.start()
    return sock


async def _ask(path: str, request: bytes) -> bytes:
    """One request with `connection: close`: the answer up to the socket's close."""
    async with asyncio.timeout(30):
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(request)
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data


def _post(target: str, body: dict, extra: str = "") -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {target} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer forged-by-the-agent\r\n{extra}content-length: {len(data)}\r\n"
            "connection: close\r\n\r\n").encode() + data


async def test_the_key_is_added_and_usage_comes_from_the_upstream(tmp_path, upstream) -> None:
    upstream.push(message("hi"))
    charged: list[Usage] = []
    sock = await _socket(tmp_path, upstream.base_url, charged)
    try:
        # the agent's own "usage" in its request is nothing the meter reads
        answer = await _ask(sock.path, _post("/v1/responses", {
            "model": "gpt-5-codex", "stream": True, "input": "x",
            "usage": {"input_tokens": 0, "output_tokens": 0}}))
    finally:
        await sock.close()
    assert b"response.completed" in answer
    assert upstream.headers[0]["authorization"] == f"Bearer {KEY}"
    assert upstream.headers[0]["accept-encoding"] == "identity"
    assert upstream.paths == ["/v1/responses"]
    assert charged == [Usage(600, 50, 400, 0, "gpt-5-codex")]


@pytest.mark.parametrize("request_bytes", [
    b"GET /v1/responses/resp_1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    _post("/v1/files", {"purpose": "x"}),
    _post("/v1/responses", {"model": "gpt-5-codex", "background": True, "input": "x"}),
])
async def test_what_could_spend_unmetered_is_not_forwarded(tmp_path, upstream,
                                                           request_bytes) -> None:
    charged: list[Usage] = []
    sock = await _socket(tmp_path, upstream.base_url, charged)
    try:
        answer = await _ask(sock.path, request_bytes)
    finally:
        await sock.close()
    assert answer.split(b" ")[1] in (b"400", b"403"), answer[:200]
    assert b"agentorch" in answer
    assert upstream.requests == [] and charged == []


async def test_a_client_that_hangs_up_early_is_still_charged(tmp_path) -> None:
    """The agent reads the start of the stream and hangs up before `response.completed`:
    the engine reads the upstream's answer to its end and charges it all the same."""
    hung_up = asyncio.Event()

    async def slow_upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        first = b'data: {"type":"response.created","response":{"id":"r"}}\n\n'
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        await hung_up.wait()
        last = (b'data: {"type":"response.completed","response":{"id":"r","model":"gpt-5",'
                b'"usage":{"input_tokens":7000,"output_tokens":900}}}\n\n')
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(slow_upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    charged: list[Usage] = []
    sock = await _socket(tmp_path, f"http://127.0.0.1:{port}/v1", charged)
    try:
        reader, writer = await asyncio.open_unix_connection(sock.path)
        writer.write(_post("/v1/responses", {"model": "gpt-5", "stream": True, "input": "x"}))
        await reader.readuntil(b"response.created")
        writer.transport.abort()  # hang up before the usage arrives
        hung_up.set()
        async with asyncio.timeout(30):
            while not charged:
                await asyncio.sleep(0.01)
    finally:
        await sock.close()
        server.close()
    assert charged == [Usage(7000, 900, 0, 0, "gpt-5")]
