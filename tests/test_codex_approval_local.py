"""`brain: codex` with `approval: risky` on the LOCAL backend: the real `codex app-server`
connects to a loopback port of the engine; its approval requests are interrupts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine import events as ev
from tests.engine_support import make_team, start
from tests.fake_openai import FakeResponses, exec_command, message
from tests.test_cli_agent_codex import PRICING, codex_on_path, responses  # noqa: F401


async def test_a_risky_command_asks_on_the_local_backend(
        tmp_path: Path, codex_on_path: None, responses: FakeResponses) -> None:  # noqa: F811
    ws = tmp_path / "ws"
    (ws / "build").mkdir(parents=True)
    responses.push(exec_command("rm -rf build", "call_rm"))
    responses.push(message("Done."))
    team = make_team(tmp_path, [{
        "id": "cx", "brain": "codex", "model": "gpt-5-codex", "script": None,
        "approval": "risky", "tools": ["finish"], "sandbox_path": "ws"}], pricing=PRICING)
    engine, watcher, store = await start(team, tmp_path)
    try:
        ask = await watcher.wait_for(ev.INTERRUPT, "cx", timeout=120, kind="command_approval")
        assert ask.data["command"] == "rm -rf build" and (ws / "build").exists()
        await engine.interrupts.answer(ask.data["id"], {"approved": True})
        await asyncio.wait_for(engine.wait(), 120)
    finally:
        await engine.stop()
    assert engine.agents["cx"].status == ev.DONE, watcher.find(ev.AGENT_STATUS, "cx")
    assert not (ws / "build").exists()
    assert len(watcher.find(ev.USAGE, "cx")) == 2  # metered by the model socket
    await store.close()
