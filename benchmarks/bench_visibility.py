"""Event visibility latency: from `engine.emit` to a subscriber holding the event.

Durable before visible: a subscriber gets an event only once the transaction
that holds it has committed.  This measures what that costs, idle (one event
at a time, the writer waiting) and under load (producers emitting at a paced
rate of events/s, the writer batching what arrives during each commit).

Usage: python benchmarks/bench_visibility.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from memory.store import Store  # noqa: E402

TICK = 0.005  # producers emit a burst every TICK seconds


def quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


async def measure(rate: float | None, seconds: float) -> tuple[float, float, float]:
    """(achieved events/s, p50 ms, p99 ms); ``rate`` None: idle, one event in flight."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        team = TeamConfig.model_validate({"name": "vis", "sandbox": {"backend": "local"},
                                          "base_dir": tmp,
                                          "agents": [{"id": "a", "model": "scripted"}]})
        store = await Store.open(tmp / "s.db")
        engine = Engine(team, store, clock=time.perf_counter)
        sub = engine.bus.subscribe(maxsize=100_000)
        lags: list[float] = []

        async def consume() -> None:
            while True:
                event = await sub.get()
                if event is None:
                    return
                now = time.perf_counter()
                for e in (event, *sub.get_batch()):
                    lags.append(now - e.ts)

        consumer = asyncio.create_task(consume())
        t0 = time.perf_counter()
        sent = 0
        if rate is None:  # idle: the next event only after the previous one was seen
            while time.perf_counter() - t0 < seconds:
                await engine.emit("notice", "a", text="x" * 80)
                sent += 1
                while len(lags) < sent:
                    await asyncio.sleep(0)
                await asyncio.sleep(0.001)
        else:
            per_tick = max(1, round(rate * TICK))
            next_tick = t0
            while time.perf_counter() - t0 < seconds:
                for _ in range(per_tick):
                    await engine.emit("console", "a", kind="output", text="x" * 80)
                sent += per_tick
                next_tick += TICK
                await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
        await store.flush()
        elapsed = time.perf_counter() - t0
        await engine.bus.close()
        await consumer
        await store.close()
    p50, p99 = quantiles(lags)
    return sent / elapsed, p50 * 1e3, p99 * 1e3


async def main() -> None:
    from engine.tuning import tune_gc

    tune_gc()
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    print("event visibility latency (emit -> subscriber; committed first)")
    for label, rate in (("idle", None), ("10k/s", 10_000.0), ("100k/s", 100_000.0)):
        achieved, p50, p99 = await measure(rate, a.seconds)
        print(f"  {label:<7} {achieved:>9,.0f} events/s   p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")


if __name__ == "__main__":
    asyncio.run(main())
