"""Model API calls through the egress proxy are metered into the agent's budget: the
usage in the fake Messages API's responses (streamed and JSON) is charged; at the budget
the next request waits for the person, and once they stop the agent it is refused.
Real Docker, real proxy, the project's fake Messages API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

import pytest
from docker_support import require_docker
from engine_support import Watcher, make_team, step
from fake_anthropic import FakeAnthropic, Turn, text

from engine.run import Engine
from memory.store import Store
from sandboxes.docker import TEST_IMAGE

pytestmark = pytest.mark.docker


def call(stream: bool) -> str:
    body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": stream,
                       "system": "You are caller", "messages": [{"role": "user", "content": "hi"}]})
    # busybox wget sends GET through a proxy even with --post-data: the request by hand
    head = ("POST http://api.anthropic.test/v1/messages HTTP/1.1\\r\\nHost: api.anthropic.test"
            "\\r\\nContent-Type: application/json\\r\\nx-api-key: placeholder\\r\\n"
            f"Content-Length: {len(body)}\\r\\n\\r\\n")
    return f"printf '{head}%s' '{body}' | nc 127.0.0.1 3128"


async def test_usage_through_the_proxy_is_charged_and_stopped_at_the_budget(tmp_path, monkeypatch):
    require_docker()
    api = FakeAnthropic().start()
    monkeypatch.setenv("AGENTORCH_TEST_API_KEY", "sk-ant-test-metered-key")
    api.push("caller", Turn([text("one")], input_tokens=40, output_tokens=10),
             Turn([text("two")], input_tokens=60, output_tokens=20),
             Turn([text("three")], input_tokens=1, output_tokens=1))
    port = api.base_url.rsplit(":", 1)[1]
    team = make_team(tmp_path, [{
        "id": "caller", "budget": {"tokens": 100},
        "network": {"allow": ["api.anthropic.test", f"127.0.0.1:{port}"]},
        "secrets": [{"host": "api.anthropic.test", "header": "x-api-key",
                     "env": "AGENTORCH_TEST_API_KEY", "upstream": api.base_url, "meter": True}],
        "script": [step("run_command", command=call(stream=True)),
                   step("run_command", command=call(stream=False)),
                   step("run_command", command=call(stream=True))]}],
        sandbox={"backend": "docker", "image": TEST_IMAGE},
        pricing={"scripted": {"input": 3, "output": 15}})
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    w = Watcher(engine)
    try:
        await engine.start()
        budget = await w.wait_for("interrupt", "caller", kind="budget", timeout=90)
        assert len(api.requests) == 2  # the third request waits while the budget asks
        await engine.reject(budget.data["id"], "enough")
        await asyncio.wait_for(engine.wait(), 90)
    finally:
        if not engine.finished.is_set():
            await engine.stop()
        await store.close()
        api.stop()
    usage = [e.data for e in w.find("usage", "caller")]
    assert [(u["input_tokens"], u["output_tokens"]) for u in usage] == [(40, 10), (60, 20)]
    assert usage[-1]["agent_tokens"] == 130
    assert usage[-1]["agent_cost"] == pytest.approx((100 * 3 + 30 * 15) / 1e6)
    outputs = [r["result"]["output"] for r in w.results("caller")]
    assert "message_start" in outputs[0] and '"text": "two"' in outputs[1]
    assert "429" in outputs[2] and len(api.requests) == 2
    assert all(r.headers["x-api-key"] == "sk-ant-test-metered-key" for r in api.requests)
    assert all(r.headers.get("accept-encoding") == "identity" for r in api.requests)
