"""Soak: does memory stay flat over a long run?  (issue 11: bounded memory)

    .venv/bin/python benchmarks/bench_soak.py [--agents 50] [--calls 1440]

A "2-hour-equivalent" run: 50 scripted agents each making 1,440 tool calls (one every
5 s for 2 hours, played back as fast as the engine goes): pairs of agents exchange
messages (send_message / wait_for_message), write and read files, report progress
(folded past the pending limit) and update memory, on the local backend, with a
consumer reading every event as the TUI bridge does.  The process's resident memory
is sampled at every 5 % of the tool calls; the figures are the RSS at 10 %, the peak,
and the growth from 10 % to 95 % per 10,000 calls (the start is the Python heap
warming up, the last sample is taken while the run ends).  Baseline in the same run:
the RSS right after the team started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from memory.store import Store  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def script(me: str, peer: str, calls: int) -> list[dict]:
    cycle = [
        {"tool": "send_message", "args": {"to": peer, "text": f"status from {me}: " + "x" * 200}},
        {"tool": "wait_for_message", "args": {"timeout": 120}},
        {"tool": "write_file", "args": {"path": "notes.txt", "content": "y" * 2000}},
        {"tool": "read_file", "args": {"path": "notes.txt"}},
        {"tool": "report_progress", "args": {"text": f"{me} is fine"}},
        {"tool": "update_memory", "args": {"text": "checked in"}},
    ]
    steps = [cycle[i % len(cycle)] for i in range(calls - 1)]
    return [*steps, {"tool": "finish", "args": {"summary": "soaked"}}]


async def soak(n_agents: int, calls: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="agentorch-soak-") as d:
        tmp = Path(d)
        agents = []
        for i in range(n_agents):
            peer = f"a{i ^ 1}" if (i ^ 1) < n_agents else f"a{i}"
            agents.append({"id": f"a{i}", "model": "scripted", "script": script(f"a{i}", peer, calls),
                           "direct_communication": [peer], "sandbox_path": f"ws/{i}",
                           "memory_file": f"mem/{i}.md"})
        team = TeamConfig.model_validate({"name": "soak", "sandbox": {"backend": "local"},
                                          "agents": agents, "base_dir": tmp})
        store = await Store.open(tmp / "state.db")
        engine = Engine(team, store)
        total = n_agents * calls
        samples: list[tuple[int, float]] = []
        sub = engine.bus.subscribe(maxsize=100_000)

        async def consume() -> None:
            done = 0
            next_mark = total // 20
            while True:
                ev = await sub.get()
                if ev is None:
                    return
                for e in (ev, *sub.get_batch()):
                    if e.type == "tool_result":
                        done += 1
                        if done >= next_mark:
                            samples.append((done, rss_mb()))
                            next_mark += total // 20

        consumer = asyncio.create_task(consume())
        t0 = time.perf_counter()
        await engine.start()
        started = rss_mb()
        # interrupts (progress reports) pile up to the limit and fold; answer none: the person is away
        await engine.wait()
        elapsed = time.perf_counter() - t0
        await consumer
        await store.close()
    return {"started": started, "samples": samples, "elapsed": elapsed, "total": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1440)
    args = parser.parse_args()
    r = asyncio.run(soak(args.agents, args.calls))
    samples = r["samples"]
    first = next((mb for n, mb in samples if n >= r["total"] // 10), samples[0][1])
    # the steady state: 10 % to 95 % (the last sample is taken while the run ends)
    steady = [(n, mb) for n, mb in samples if n <= r["total"] * 0.95]
    last_n, last = steady[-1]
    peak = max(mb for _, mb in samples)
    per_10k = (last - first) / max(1, last_n - r["total"] // 10) * 10_000
    print(f"soak: {args.agents} agents x {args.calls} calls = {r['total']} tool calls in {r['elapsed']:.0f} s")
    print(f"  RSS after start {r['started']:.0f} MB (baseline); at 10 % {first:.0f} MB; "
          f"at 95 % {last:.0f} MB; peak {peak:.0f} MB; at the last call {samples[-1][1]:.0f} MB")
    print(f"  growth from 10 % to 95 %: {last - first:+.1f} MB = {per_10k:+.2f} MB per 10,000 calls")
    print("  samples (calls: MB): " + ", ".join(f"{n}: {mb:.0f}" for n, mb in samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
