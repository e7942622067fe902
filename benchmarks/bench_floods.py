"""Message and interrupt floods from a runaway agent: peak memory, database, output.

The two floods of issue 12, each in a fresh process running the engine the way
`--headless --backend local` does (``run_headless``, every event encoded as a JSON
line into a sink that counts the bytes):

* messages: agent `a` sends 1,000 `send_message` of 65,536 emoji (256 KiB of UTF-8
  each) to `b`, which never reads; and the same with 16,384 emoji (64 KiB, exactly at
  the default byte limit), which the inbox limit stops instead;
* reports: agent `a` sends 5,000 `report_progress` of 60,000 characters.

The flooding agent's brain plays one tool call N times (like the scripted brain, but
without an N-step script in the team file: the run records its team configuration, and
an N-step script of large arguments would be measured instead of the flood).

Printed per flood: wall time, the process's peak RSS (``ru_maxrss`` from ``wait4``),
the database size, the bytes of headless output and how many calls were refused.  With
``--before DIR`` (a checkout of older code, e.g. ``git worktree add --detach /tmp/before
ab4cba3``) the same floods run on that code too.

Usage: python benchmarks/bench_floods.py [--before DIR] [--messages 1000] [--reports 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: runs in the child process, with PYTHONPATH at the code to measure
DRIVER = r"""
import asyncio, json, sys
import engine.run
from engine.brains.base import Brain, ToolCall
from engine.config import TeamConfig
from engine.headless import run_headless
from memory.store import Store

spec = json.loads(sys.argv[1])
unit, repeat = spec["text"]
spec["args"]["text"] = unit * repeat
made = engine.run.make_brain


class FloodBrain(Brain):
    def __init__(self, agent_id):
        self.agent_id, self.left = agent_id, spec["count"]

    async def next_calls(self, results):
        if self.left == 0:
            return []
        self.left -= 1
        return [ToolCall(f"{self.agent_id}-{self.left}", spec["tool"], dict(spec["args"]))]


def make_brain(agent, team, start_at=0):
    return FloodBrain(agent.id) if agent.id == "a" else made(agent, team, start_at)


class Sink:
    def __init__(self):
        self.bytes = 0
        self.refused = 0

    def write(self, text):
        self.bytes += len(text.encode("utf-8", "surrogatepass"))
        self.refused += text.count('"is_error": true')

    def flush(self):
        pass


async def main():
    engine.run.make_brain = make_brain
    team = TeamConfig.model_validate({
        "name": "flood", "sandbox": {"backend": "local"}, "base_dir": spec["dir"],
        "agents": [{"id": "a", "model": "scripted", "script": [], "direct_communication": ["b"]},
                   {"id": "b", "model": "scripted", "script": []}]})
    store = await Store.open(spec["dir"] + "/state.db")
    sink = Sink()
    code = await run_headless(engine.run.Engine(team, store), out=sink)
    await store.close()
    print(json.dumps({"exit": code, "bytes": sink.bytes, "refused": sink.refused}))


asyncio.run(main())
"""


@dataclass
class Figures:
    seconds: float
    peak_rss_mb: float
    db_mb: float
    output_mb: float
    exit_code: int
    refused: int  # tool results that were errors


def run_flood(src: Path, tool: str, args: dict, text: tuple[str, int], count: int) -> Figures:
    """One flood: ``count`` calls of ``tool`` with ``args`` plus ``text`` (unit, repeat)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = json.dumps({"dir": tmp, "tool": tool, "args": args, "text": text,
                           "count": count}, ensure_ascii=False)
        env = {**os.environ, "PYTHONPATH": str(src)}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, spec], cwd=tmp, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        seconds = time.perf_counter() - started
        result = json.loads(out.splitlines()[-1]) if out.strip() else {
            "exit": -1, "bytes": 0, "refused": 0}
        db = sum(p.stat().st_size for p in Path(tmp).glob("state.db*"))
        return Figures(seconds, usage.ru_maxrss / 1024, db / 2**20, result["bytes"] / 2**20,
                       result["exit"], result["refused"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", type=Path, help="a checkout of older code to compare with")
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--reports", type=int, default=5000)
    args = p.parse_args()
    emoji = "\N{GRINNING FACE}"
    floods = [
        (f"{args.messages:,} messages of 65,536 emoji", "send_message", {"to": "b"},
         (emoji, 65_536), args.messages),
        (f"{args.messages:,} messages of 16,384 emoji", "send_message", {"to": "b"},
         (emoji, 16_384), args.messages),
        (f"{args.reports:,} reports of 60,000 chars", "report_progress", {}, ("x", 60_000),
         args.reports),
    ]
    sources = [("now", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    print(f"{'flood':<36} {'code':<7} {'time s':>7} {'peak RSS MB':>12} {'db MB':>8} "
          f"{'output MB':>10} {'refused':>8} {'exit':>5}")
    for name, tool, tool_args, text, count in floods:
        for label, src in sources:
            f = run_flood(src, tool, tool_args, text, count)
            print(f"{name:<36} {label:<7} {f.seconds:>7.1f} {f.peak_rss_mb:>12.0f} "
                  f"{f.db_mb:>8.1f} {f.output_mb:>10.1f} {f.refused:>8} {f.exit_code:>5}",
                  flush=True)


if __name__ == "__main__":
    main()
