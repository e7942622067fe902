"""Secrets by attack: the proxy adds the key outside the sandbox; the key is then hunted
for everywhere it must not be (the container's environment and files, the event log
and its database files, the console, both exports).  pass_env values, which do enter
the sandbox, are redacted from the log, the console and the exports."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from docker_support import require_docker
from engine_support import Watcher, make_team, step
from proxy_support import FakeOrigin

from engine.cli import cmd_export
from engine.run import Engine
from memory.store import Store
from sandboxes.docker import TEST_IMAGE

pytestmark = pytest.mark.docker


def everywhere(tmp_path: Path) -> bytes:
    """Every byte the run left on the host: database (+ WAL), exports."""
    return b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*"))
                    if p.is_file() and not p.is_symlink())


async def test_a_secret_reaches_the_server_and_nothing_else(tmp_path, monkeypatch):
    require_docker()
    origin = await FakeOrigin().start()
    key = "sk-test-" + secrets.token_hex(12)
    passed = "pass-" + secrets.token_hex(12)
    monkeypatch.setenv("AGENTORCH_TEST_KEY", key)
    monkeypatch.setenv("AGENTORCH_TEST_PASSED", passed)
    hunt = ("env; cat /proc/1/environ | tr '\\000' '\\n'; ls -la /run/agentorch /tmp; "
            f"grep -rl {key[8:]} /tmp /workspace /run /etc 2>/dev/null && echo FOUND-KEY; echo grep-done")
    team = make_team(tmp_path, [{
        "id": "coder", "pass_env": ["AGENTORCH_TEST_PASSED"],
        "network": {"allow": ["api.test", f"127.0.0.1:{origin.port}"]},
        "secrets": [{"host": "api.test", "header": "x-api-key", "env": "AGENTORCH_TEST_KEY",
                     "upstream": f"http://127.0.0.1:{origin.port}"}],
        "script": [step("run_command", command="wget -O - http://api.test/v1/messages 2>&1"),
                   step("run_command", command=hunt),
                   step("run_command", command="echo passed=$AGENTORCH_TEST_PASSED")]}],
        sandbox={"backend": "docker", "image": TEST_IMAGE})
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
        await origin.stop()
    outputs = [r["result"]["output"] for r in w.results("coder")]
    assert "hello from origin" in outputs[0]
    assert f"x-api-key: {key}".encode() in origin.heads[0]  # the server got it
    # not in the container (its tail only is in the script, so the log may hold that)
    assert "grep-done" in outputs[1] and key not in outputs[1]
    assert "FOUND-KEY" not in outputs[1] and key[8:] not in outputs[1]
    assert "passed=[redacted $AGENTORCH_TEST_PASSED]" in outputs[2]
    assert passed not in outputs[1] + outputs[2]
    for fmt in ("jsonl", "markdown"):
        assert await cmd_export(str(tmp_path / "state.db"), engine.run_id, fmt,
                                str(tmp_path / f"export.{fmt}")) == 0
    left = everywhere(tmp_path)
    assert b"redacted $AGENTORCH_TEST_PASSED" in left
    assert key.encode() not in left and passed.encode() not in left
    assert all(key not in str(e.data) and passed not in str(e.data) for e in w.events)
