"""Engine benchmarks: per-step overhead, durable appends, message round trip.

Each figure is printed next to a baseline measured in the same run:

* step overhead: N scripted agents each playing S steps through the whole loop
  (brain -> tool_call event -> tool -> tool_result event, store + bus) against a
  bare asyncio loop doing the same queue hops (two events per step).
* durable appends: the store's group commit against one aiosqlite commit per event.
* message round trip: a sync request/reply between two agents against a bare
  asyncio future round trip.

Usage: python benchmarks/bench_engine.py [--agents 500] [--steps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiosqlite  # noqa: E402

from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from memory.store import Store  # noqa: E402


def team_of(tmp: Path, agents: list[dict]) -> TeamConfig:
    return TeamConfig.model_validate({"name": "bench", "sandbox": {"backend": "local"},
                                      "agents": agents, "base_dir": tmp})


async def drain(engine: Engine, window: list[float] | None = None) -> int:
    """A consumer like the TUI bridge: reads every event in batches.

    ``window`` gets the times of the first tool call and the last tool result:
    the steady state, without sandbox set-up and teardown.
    """
    sub = engine.bus.subscribe(maxsize=100_000)
    n = 0
    while True:
        ev = await sub.get()
        if ev is None:
            return n
        batch = [ev, *sub.get_batch()]
        n += len(batch)
        if window is not None:
            for e in batch:
                if e.type == "tool_call" and not window:
                    window.append(e.ts)
                elif e.type == "tool_result":
                    window[1:] = [e.ts]


async def engine_steps(n_agents: int, steps: int) -> tuple[float, float, int]:
    # The step: an async send_message to a sink agent.  It goes through the
    # whole loop (brain, arguments checked, topology checked, three events
    # stored and published: tool_call, message, tool_result; the message
    # stored and put in the sink's inbox): the engine's own cost, no sandbox.
    script = [{"tool": "send_message", "args": {"to": "sink", "text": "x"}}] * steps
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        agents = [{"id": f"a{i}", "model": "scripted", "script": script,
                   "direct_communication": ["sink"], "sandbox_path": f"ws/{i}"}
                  for i in range(n_agents)]
        agents.append({"id": "sink", "model": "scripted", "script": [], "sandbox_path": "ws/sink"})
        store = await Store.open(tmp / "s.db")
        engine = Engine(team_of(tmp, agents), store)
        window: list[float] = []
        consumer = asyncio.create_task(drain(engine, window))
        t0 = time.perf_counter()
        await engine.start()
        await engine.wait()
        elapsed = time.perf_counter() - t0
        events = await consumer
        await store.close()
    return elapsed, window[1] - window[0], events


async def bare_steps(n_agents: int, steps: int) -> float:
    q: asyncio.Queue = asyncio.Queue(maxsize=100_000)
    done = asyncio.Event()
    total = n_agents * steps * 3

    async def consumer() -> None:
        seen = 0
        while seen < total:
            await q.get()
            seen += 1
        done.set()

    async def agent(i: int) -> None:
        for s in range(steps):
            await q.put(("tool_call", i, s))
            await q.put(("message", i, s))
            await asyncio.sleep(0)  # the "tool"
            await q.put(("tool_result", i, s))

    t0 = time.perf_counter()
    c = asyncio.create_task(consumer())
    await asyncio.gather(*(agent(i) for i in range(n_agents)))
    await done.wait()
    await c
    return time.perf_counter() - t0


async def appends(n: int) -> tuple[float, float]:
    rows = [("r", i, 0.0, "console", "a", json.dumps({"text": f"line {i}\n"}))
            for i in range(1, n + 1)]
    with tempfile.TemporaryDirectory() as d:
        store = await Store.open(Path(d) / "g.db")
        t0 = time.perf_counter()
        for r in rows:
            store.append_event(*r)
        await store.flush()
        group = time.perf_counter() - t0
        await store.close()
        naive_n = max(n // 20, 500)
        conn = await aiosqlite.connect(Path(d) / "n.db")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("CREATE TABLE events (run_id, seq, ts, type, agent, data)")
        await conn.commit()
        t0 = time.perf_counter()
        for r in rows[:naive_n]:
            await conn.execute("INSERT INTO events VALUES (?,?,?,?,?,?)", r)
            await conn.commit()
        naive = (time.perf_counter() - t0) / naive_n * n
        await conn.close()
    return n / group, n / naive


async def round_trips(n: int) -> tuple[float, float]:
    asker = [{"tool": "send_message", "args": {"to": "b", "text": "ping", "wait_reply": True}}] * n
    helper = [{"tool": "wait_for_message", "args": {}}, {"tool": "reply", "args": {"text": "pong"}}] * n
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        store = await Store.open(tmp / "s.db")
        engine = Engine(team_of(tmp, [
            {"id": "a", "model": "scripted", "direct_communication": ["b"], "script": asker},
            {"id": "b", "model": "scripted", "script": helper}]), store)
        window: list[float] = []
        consumer = asyncio.create_task(drain(engine, window))
        await engine.start()
        await engine.wait()
        await consumer
        eng = (window[1] - window[0]) / n
        await store.close()
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue = asyncio.Queue()

    async def server() -> None:
        for _ in range(n):
            fut = await inbox.get()
            fut.set_result("pong")

    s = asyncio.create_task(server())
    t0 = time.perf_counter()
    for _ in range(n):
        fut = loop.create_future()
        await inbox.put(fut)
        await fut
    bare = (time.perf_counter() - t0) / n
    await s
    return eng, bare


async def main() -> None:
    from engine.tuning import tune_gc

    tune_gc()  # as the command line does
    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=500)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--appends", type=int, default=100_000)
    p.add_argument("--round-trips", type=int, default=2000)
    a = p.parse_args()
    runs, steady_runs = [], []
    for _ in range(3):
        elapsed, steady, events = await engine_steps(a.agents, a.steps)
        runs.append(elapsed)
        steady_runs.append(steady)
    elapsed = statistics.median(runs)
    steady = statistics.median(steady_runs)
    bare = statistics.median([await bare_steps(a.agents, a.steps) for _ in range(3)])
    n_steps = a.agents * a.steps
    per_step = steady / n_steps * 1e6
    per_total = elapsed / n_steps * 1e6
    per_bare = bare / n_steps * 1e6
    print(f"engine step overhead: {a.agents} concurrent agents x {a.steps} steps = {n_steps} steps, "
          f"{events} events")
    print(f"  engine   {per_step:8.1f} us/step  ({n_steps / steady:,.0f} steps/s, first call to "
          f"last result; {per_total:.1f} us/step incl. sandboxes, start and stop)")
    print(f"  bare     {per_bare:8.1f} us/step  (the same 3 queue hops per step, nothing else)")
    print(f"  ratio    {per_step / per_bare:8.1f}x   target: < 50 us/step -> "
          f"{'OK' if per_step < 50 else 'MISSED'}")
    group, naive = await appends(a.appends)
    print(f"durable event appends ({a.appends:,} events, WAL, synchronous=NORMAL)")
    print(f"  group commit  {group:12,.0f} events/s")
    print(f"  commit each   {naive:12,.0f} events/s")
    print(f"  ratio         {group / naive:12.1f}x   target: >= 50,000/s and >= 10x -> "
          f"{'OK' if group >= 50_000 and group / naive >= 10 else 'MISSED'}")
    eng, bare_rt = await round_trips(a.round_trips)
    print(f"sync message round trip ({a.round_trips} request/reply pairs between two agents)")
    print(f"  engine   {eng * 1e6:8.1f} us/round trip (2 tool calls + 2 messages, all recorded, "
          "a consumer reading every event)")
    print(f"  bare     {bare_rt * 1e6:8.1f} us/round trip (asyncio future)")
    print(f"  ratio    {eng / bare_rt:8.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
