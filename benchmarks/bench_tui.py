"""Console flood: 10 agents each print 200k lines as fast as they can while the
control center runs under Textual's pilot (headless rendering, 120x40).

Prints lines/s delivered to the UI (all agents' bounded buffers; the selected agent's
lines also reach the screen through one `write_lines` per flush) and the event-loop
lag p50/p99 measured in the same run.  Targets: >= 50,000 lines/s, p99 < 50 ms.

    .venv/bin/python benchmarks/bench_tui.py [--agents 10] [--lines 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from engine import events as ev  # noqa: E402
from engine.loader import load_team  # noqa: E402
from engine.run import Engine  # noqa: E402
from engine.tuning import tune_gc  # noqa: E402
from memory.store import Store  # noqa: E402
from tui.app import make_app  # noqa: E402

LAG_TICK = 0.002
SETTLE = 1.0  # seconds each command sleeps first, so the flood meets a settled screen


def team_file(tmp: Path, agents: int, lines: int) -> Path:
    team = {"name": "flood", "sandbox": {"resources": {"command_timeout": 600}}, "agents": [
        {"id": f"a{i}", "script": [{"tool": "run_command",
                                    "args": {"command": f"sleep {SETTLE}; seq {lines}"}},
                                   {"tool": "finish", "args": {"summary": "printed"}}]}
        for i in range(agents)]}
    path = tmp / "flood.yaml"
    path.write_text(yaml.safe_dump(team))
    return path


async def measure_lag(samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """(when, lag): how late a timer of LAG_TICK fires, sampled all along the run."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(LAG_TICK)
        samples.append((t0, loop.time() - t0 - LAG_TICK))


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(agents: int, lines: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    path = team_file(tmp, agents, lines)
    team = load_team(path)
    holder: dict[str, object] = {}

    async def factory():
        store = await Store.open(tmp / "state.db")
        tune_gc()  # as the command line does when it opens an engine
        engine = Engine(team, store, config_path=str(path), backend="local")
        holder["engine"] = engine
        return engine, store

    app = make_app(factory)
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    async with app.run_test(size=(120, 40)) as pilot:
        loop = asyncio.get_running_loop()
        lagger = asyncio.create_task(measure_lag(samples, stop))
        while app.state is None or app.consoles.lines_in <= agents:  # only `$ command` lines
            await asyncio.sleep(0.001)
        t0 = loop.time()
        while not (app.state.finished or all(a.status in ev.TERMINAL_STATUSES
                                             for a in app.state.agents.values())):
            await asyncio.sleep(0.001)
        elapsed = loop.time() - t0
        stop.set()
        await lagger
        lag = [d for when, d in samples if t0 <= when <= t0 + elapsed]
        await pilot.pause(0.2)
        console = app.query_one("#console")
        engine = holder["engine"]
        store = engine.store  # type: ignore[attr-defined]
        figures = {
            "elapsed_s": elapsed,
            "lines_in": app.consoles.lines_in,
            "lines_on_screen": app.bridge.lines_posted,
            "console_lines_kept": console.line_count,
            "samples": len(lag),
            "lag_p50_ms": pct(lag, 50) * 1000,
            "lag_p99_ms": pct(lag, 99) * 1000,
            "lag_max_ms": max(lag, default=0) * 1000,
            "lag_mean_ms": statistics.fmean(lag) * 1000 if lag else 0.0,
            "store_rows": store.rows_written,
        }
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=10)
    p.add_argument("--lines", type=int, default=200_000)
    args = p.parse_args()
    f = asyncio.run(run(args.agents, args.lines))
    total = args.agents * args.lines
    rate = f["lines_in"] / f["elapsed_s"]
    print(f"console flood: {args.agents} agents x {args.lines:,} lines = {total:,} lines "
          f"in {f['elapsed_s']:.2f} s")
    print(f"  delivered to the UI : {f['lines_in']:,} lines  ->  {rate:,.0f} lines/s "
          f"(target >= 50,000)")
    print(f"  on screen (selected): {f['lines_on_screen']:,} lines via write_lines; "
          f"kept in the console: {f['console_lines_kept']:,}")
    print(f"  event-loop lag      : p50 {f['lag_p50_ms']:.1f} ms  p99 {f['lag_p99_ms']:.1f} ms  "
          f"max {f['lag_max_ms']:.1f} ms (target p99 < 50 ms)")
    print(f"  lag samples         : {f['samples']:,} (a {LAG_TICK * 1000:g} ms timer, during the flood)")
    print(f"  store rows written  : {f['store_rows']:,}")
    ok = rate >= 50_000 and f["lag_p99_ms"] < 50
    print("  result              :", "OK" if ok else "BELOW TARGET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
