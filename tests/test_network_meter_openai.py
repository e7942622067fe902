"""The egress proxy's meter reads OpenAI's Responses API too: a program that calls it
itself through the proxy (the key added there as a Bearer) is charged the usage of the
upstream's `response.completed`, cached input split out.  Real Docker, real proxy, the
project's fake Responses API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

import pytest
from docker_support import require_docker
from engine_support import Watcher, make_team, step

from engine.run import Engine
from memory.store import Store
from sandboxes.docker import TEST_IMAGE
from tests.fake_openai import FakeResponses, message

pytestmark = pytest.mark.docker


def call() -> str:
    body = json.dumps({"model": "gpt-5-codex", "stream": True, "input": "hi"})
    head = ("POST http://api.openai.test/v1/responses HTTP/1.1\\r\\nHost: api.openai.test"
            "\\r\\nContent-Type: application/json\\r\\nAuthorization: Bearer placeholder\\r\\n"
            f"Content-Length: {len(body)}\\r\\n\\r\\n")
    return f"printf '{head}%s' '{body}' | nc 127.0.0.1 3128"


async def test_responses_through_the_proxy_are_metered(tmp_path, monkeypatch) -> None:
    require_docker()
    api = FakeResponses()
    api.push(message("hello"))
    monkeypatch.setenv("AGENTORCH_TEST_OPENAI_KEY", "sk-openai-proxied-key")
    upstream = api.base_url.removesuffix("/v1")
    port = upstream.rsplit(":", 1)[1]
    team = make_team(tmp_path, [{
        "id": "caller", "network": {"allow": ["api.openai.test", f"127.0.0.1:{port}"]},
        "secrets": [{"host": "api.openai.test", "header": "Authorization", "prefix": "Bearer ",
                     "env": "AGENTORCH_TEST_OPENAI_KEY", "upstream": upstream, "meter": True}],
        "script": [step("run_command", command=call())]}],
        sandbox={"backend": "docker", "image": TEST_IMAGE},
        pricing={"scripted": {"input": 1.25, "output": 10, "cache_read": 0.125}})
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    w = Watcher(engine)
    try:
        await engine.start()
        await asyncio.wait_for(engine.wait(), 90)
    finally:
        if not engine.finished.is_set():
            await engine.stop()
        await store.close()
        api.stop()
    assert api.headers[0]["authorization"] == "Bearer sk-openai-proxied-key"
    usage = [e.data for e in w.find("usage", "caller")]
    assert [(u["input_tokens"], u["cache_read_tokens"], u["output_tokens"]) for u in usage] == \
        [(600, 400, 50)]
    assert usage[0]["model"] == "gpt-5-codex" and usage[0]["cost"] > 0
