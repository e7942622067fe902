"""Claude brain benchmark: the engine's cost per Claude turn against the SDK alone.

Both sides talk to the same fake Messages API server (tests/fake_anthropic.py, a real
HTTP server on 127.0.0.1, run in its own process so it does not share our GIL) in the
same run, interleaved:

* engine: one Claude agent through the whole loop; each turn is a streamed reply of
  N text deltas and one tool call (report_progress), so a turn is request -> stream ->
  assistant_text events -> usage/budget -> tool_call -> tool -> tool_result -> next
  request, with the store and the bus live.
* SDK alone: the very same request bodies (replayed from the engine's run) sent with
  ``AsyncAnthropic.messages.create(stream=True)`` and every event read, nothing else.
  The SDK's ``messages.stream()`` helper (which accumulates the message as it goes) is
  shown as a second reference.

Printed: ms per turn for each, the ratio, and µs per text delta.  Not asserted anywhere.

Usage: python benchmarks/bench_claude.py [--turns 40] [--deltas 10,100,1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import anthropic  # noqa: E402
from fake_anthropic import FakeAnthropic, Turn, text, tool  # noqa: E402

from engine.brains.claude_context import with_cache_breakpoints  # noqa: E402
from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from memory.store import Store  # noqa: E402

MODEL = "claude-sonnet-5-5"


def reply_for(body: dict, turns: int, deltas: int) -> Turn:
    """Turn k of the conversation: N deltas of text and one tool call (finish at the end)."""
    k = (len(body["messages"]) + 1) // 2
    call = (tool("finish", summary="done") if k >= turns
            else tool("report_progress", text=f"step {k}"))
    return Turn([text("word " * deltas, deltas=deltas), call])


def serve(turns: int, deltas: int, flush_every: int) -> None:
    """The server process: prints its URL, then serves until stdin closes."""
    api = FakeAnthropic(flush_every=flush_every)
    api.record = False
    api.responder = lambda body: reply_for(body, turns, deltas)
    with api:
        print(api.base_url, flush=True)
        sys.stdin.read()


async def engine_run(turns: int) -> tuple[float, int, dict]:
    """One run of the engine; returns its time, its events and the requests it sent."""
    with tempfile.TemporaryDirectory() as tmp:
        team = TeamConfig.model_validate({
            "name": "bench", "sandbox": {"backend": "local"}, "base_dir": Path(tmp),
            "agents": [{"id": "bench", "model": MODEL, "max_retries": 0}]})
        store = await Store.open(Path(tmp) / "state.db")
        engine = Engine(team, store)
        sub = engine.bus.subscribe(maxsize=1_000_000)
        events = 0

        async def drain() -> None:  # a consumer like the TUI bridge
            nonlocal events
            while await sub.get() is not None:
                events += 1 + len(sub.get_batch())

        reader = asyncio.create_task(drain())
        await engine.start()
        t = time.perf_counter()
        await engine.wait()
        elapsed = time.perf_counter() - t
        await reader
        await store.close()
    assert engine.status == "finished", engine.status
    brain = engine.agents["bench"].brain
    msgs = brain.messages
    sent = {"common": {"model": brain.model, "max_tokens": brain.max_tokens,
                       "system": brain.system, "tools": brain.tools},
            "messages": [with_cache_breakpoints(msgs[:n]) for n in range(1, len(msgs), 2)]}
    assert len(sent["messages"]) == turns
    return elapsed, events, sent


async def sdk_run(base_url: str, sent: dict, helper: bool) -> float:
    """The same requests, straight through the SDK, every event read."""
    client = anthropic.AsyncAnthropic(api_key="sk-ant-bench", base_url=base_url, max_retries=0)
    t = time.perf_counter()
    for messages in sent["messages"]:
        params = {**sent["common"], "messages": messages}
        if helper:
            async with client.messages.stream(**params) as stream:
                async for _ in stream:
                    pass
                await stream.get_final_message()
        else:
            stream = await client.messages.create(**params, stream=True)
            async with stream:
                async for _ in stream:
                    pass
    elapsed = time.perf_counter() - t
    await client.close()
    return elapsed


async def bench(turns: int, deltas: int, rounds: int, flush_every: int) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(turns), str(deltas),
                             str(flush_every)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        base_url = proc.stdout.readline().strip()
        os.environ["ANTHROPIC_BASE_URL"] = base_url
        _, _, sent = await engine_run(turns)  # warm up imports and connections
        await sdk_run(base_url, sent, helper=False)
        ours, raw, helper, n_events = [], [], [], 0
        for _ in range(rounds):
            elapsed, n_events, sent = await engine_run(turns)
            ours.append(elapsed / turns)
            raw.append(await sdk_run(base_url, sent, helper=False) / turns)
            helper.append(await sdk_run(base_url, sent, helper=True) / turns)
    finally:
        proc.stdin.close()
        proc.wait(10)
    e, s, h = statistics.median(ours), statistics.median(raw), statistics.median(helper)
    return {"deltas": deltas, "engine_ms": e * 1e3, "sdk_ms": s * 1e3, "helper_ms": h * 1e3,
            "ratio": e / s, "engine_us_delta": e / deltas * 1e6, "sdk_us_delta": s / deltas * 1e6,
            "overhead_us": (e - s) * 1e6, "events_per_turn": n_events / turns}


async def main_async(args: argparse.Namespace) -> None:
    os.environ["ANTHROPIC_API_KEY"] = "sk-ant-bench"
    print(f"Claude turn: engine vs SDK alone, same fake server, {args.turns} turns, "
          f"median of {args.rounds} rounds")
    print(f"{'deltas':>7} {'engine ms/turn':>15} {'SDK ms/turn':>12} {'ratio':>6} "
          f"{'overhead µs/turn':>17} {'engine µs/delta':>16} {'SDK µs/delta':>13} "
          f"{'SDK helper ms':>14} {'events/turn':>12}")
    for deltas in args.deltas:
        r = await bench(args.turns, deltas, args.rounds, args.flush_every)
        print(f"{r['deltas']:>7} {r['engine_ms']:>15.2f} {r['sdk_ms']:>12.2f} "
              f"{r['ratio']:>6.2f} {r['overhead_us']:>17.0f} {r['engine_us_delta']:>16.1f} "
              f"{r['sdk_us_delta']:>13.1f} {r['helper_ms']:>14.2f} "
              f"{r['events_per_turn']:>12.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--turns", type=int, default=40)
    p.add_argument("--deltas", type=lambda s: [int(x) for x in s.split(",")],
                   default=[10, 100, 1000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--flush-every", type=int, default=1,
                   help="SSE events per socket write of the fake server (1 = like the API)")
    p.add_argument("--serve", nargs=3, type=int, metavar=("TURNS", "DELTAS", "FLUSH"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
