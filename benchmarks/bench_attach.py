"""Attach benchmark: events streamed over the control socket to a client in another process,
and how far that client lags behind the engine, while 100 scripted agents run.

Two runs of the same team (each agent waits for a "go", then sends S messages to a sink:
three events per step, stored and published):

* baseline: an in-process subscriber of the engine's bus (what the embedded TUI's bridge
  reads), measuring the lag of each event (received - emitted);
* attached: the same subscriber plus an `attach`-like client in a second process that
  subscribes on the control socket (engine/service/client.py) and measures the same.

The "go" is sent once the client subscribed, so every figure is of live streaming.
Printed: the engine's events/s in each run (what serving a client costs it), the
client's events/s, and the lag percentiles of both consumers.

Usage: python benchmarks/bench_attach.py [--agents 100] [--steps 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from engine.service.control_socket import ControlServer  # noqa: E402
from memory.store import Store  # noqa: E402


def team_of(tmp: Path, n_agents: int, steps: int) -> TeamConfig:
    script = [{"tool": "wait_for_message", "args": {"timeout": 300}},
              *[{"tool": "send_message", "args": {"to": "sink", "text": "x"}}] * steps]
    agents = [{"id": f"a{i}", "model": "scripted", "script": script,
               "direct_communication": ["sink"], "sandbox_path": f"ws/{i}"}
              for i in range(n_agents)]
    agents.append({"id": "sink", "model": "scripted", "script": [], "sandbox_path": "ws/sink"})
    return TeamConfig.model_validate({"name": "bench", "sandbox": {"backend": "local"},
                                      "agents": agents, "base_dir": tmp})


def percentiles(lags: list[float]) -> dict[str, float]:
    if not lags:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    lags = sorted(lags)
    return {"p50": lags[len(lags) // 2] * 1000, "p99": lags[int(len(lags) * 0.99)] * 1000,
            "max": lags[-1] * 1000}


async def local_consumer(engine: Engine, out: dict) -> None:
    """Reads the bus as the TUI bridge does; the lag of each event after the go."""
    sub = engine.bus.subscribe(maxsize=1024)
    lags: list[float] = []
    first = last = 0.0
    n = 0
    while (event := await sub.get()) is not None:
        for e in [event, *sub.get_batch()]:
            if e.type == "message" and e.data.get("from") == "user":
                first = first or time.time()
            if first:
                now = time.time()
                lags.append(now - e.ts)
                last = now
                n += 1
    out.update(events=n, seconds=last - first, **percentiles(lags))


async def one_run(n_agents: int, steps: int, attached: bool) -> dict:
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory(dir="/tmp") as s:
        tmp = Path(d)
        store = await Store.open(tmp / "s.db")
        engine = Engine(team_of(tmp, n_agents, steps), store)
        engine.control = ControlServer(engine, Path(s)) if attached else None
        local: dict = {}
        consumer = asyncio.create_task(local_consumer(engine, local))
        await engine.start()
        client = None
        if attached:
            client = subprocess.Popen([sys.executable, __file__, "--client",
                                       str(engine.control.path)],
                                      stdout=subprocess.PIPE, text=True)
            while not engine.control.subscribers:  # the client subscribed: live from here
                await asyncio.sleep(0.01)
        await engine.send_user_message("all", "go")
        await engine.wait()
        await consumer
        result = {"local": local}
        if client is not None:
            out, _ = await asyncio.to_thread(client.communicate)
            result["client"] = json.loads(out)
        await store.close()
    return result


async def client_main(path: str) -> None:
    """The attached client (its own process): subscribe, read to the end, report."""
    from engine.service.client import ControlClient

    client = await ControlClient.connect(path, name="bench")
    await client.subscribe()
    lags: list[float] = []
    first = last = 0.0
    while (event := await client.next_event()) is not None:
        for e in [event, *client.take_events()]:
            if e.type == "message" and e.data.get("from") == "user":
                first = first or time.time()
            if first:
                now = time.time()
                lags.append(now - e.ts)
                last = now
    await client.close()
    print(json.dumps({"events": len(lags), "seconds": last - first, **percentiles(lags)}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--client", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        asyncio.run(client_main(args.client))
        return
    base = asyncio.run(one_run(args.agents, args.steps, attached=False))["local"]
    both = asyncio.run(one_run(args.agents, args.steps, attached=True))
    served, client = both["local"], both["client"]

    def rate(r: dict) -> float:
        return r["events"] / r["seconds"] if r["seconds"] else 0.0

    print(f"{args.agents} scripted agents x {args.steps} messages (3 events per step), "
          "figures after the go")
    print(f"  baseline, in-process bus subscriber:  {base['events']:>7} events  "
          f"{rate(base):>9,.0f} ev/s  lag p50 {base['p50']:.1f} ms  p99 {base['p99']:.1f} ms  "
          f"max {base['max']:.1f} ms")
    print(f"  with a client attached, in-process:   {served['events']:>7} events  "
          f"{rate(served):>9,.0f} ev/s  lag p50 {served['p50']:.1f} ms  "
          f"p99 {served['p99']:.1f} ms  max {served['max']:.1f} ms")
    print(f"  the attached client (other process):  {client['events']:>7} events  "
          f"{rate(client):>9,.0f} ev/s  lag p50 {client['p50']:.1f} ms  "
          f"p99 {client['p99']:.1f} ms  max {client['max']:.1f} ms")
    if rate(base):
        print(f"  engine throughput with a client attached: {rate(served) / rate(base):.2f}x "
              "the baseline's; the client got "
              f"{client['events'] / max(served['events'], 1):.0%} of the events")


if __name__ == "__main__":
    main()
