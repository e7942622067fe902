"""A stop that arrives while the run is still starting (headless `| head -1`: stdout
closes at the first event) leaves no agent behind: an agent task made after the stop
outlived the run, and asyncio.run's exit then hung for ever inside Python's half-made
subprocess (seen in CI as a 120 s timeout, 4 in 10 runs here)."""

from __future__ import annotations

import asyncio

from engine import events as ev
from engine.run import Engine
from memory.store import Store
from tests.engine_support import make_team, step


async def test_a_stop_during_start_starts_no_agent(tmp_path):
    team = make_team(tmp_path, [{"id": f"a{i}", "script": [step("run_command", command="sleep 30")]}
                                for i in range(3)])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    sub = engine.bus.subscribe()
    starting = asyncio.create_task(engine.start())
    first = await asyncio.wait_for(sub.get(), 10)
    assert first is not None and first.type == ev.RUN_STARTED
    await engine.stop("stdout closed")  # while the sandboxes are still starting
    await asyncio.wait_for(starting, 30)
    assert await asyncio.wait_for(engine.wait(), 30) == "stopped"
    assert all(rt.task is None or rt.task.done() for rt in engine.agents.values())
    left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("agent-")]
    assert left == []
    await store.close()
