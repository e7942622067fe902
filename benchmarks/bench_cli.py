"""A big scripted team through the real command line, as a user runs it (issue 13).

    .venv/bin/python benchmarks/bench_cli.py [--agents 300] [--steps 30]

Writes a team of N scripted agents (local backend), each alternating write_file
and read_file for S steps then finish, runs `agentorch-tui TEAM --headless` in a
subprocess with stdout to a file, and prints:
- end to end: wall time of the whole command and tool calls per second;
- the engine part: from the first tool_call event to run_finished (event times);
- the baselines measured in the same run: the interpreter plus our imports
  (`agentorch-tui --help`), and loading + validating the team file alone.
Target: >= 10,000 tool calls/s end to end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "tui"]


def write_team(path: Path, agents: int, steps: int) -> None:
    lines = ["name: bench", "sandbox: {backend: local}", "agents:"]
    for i in range(agents):
        lines += [f"  - id: a{i}", "    type: worker", f"    sandbox_path: ws/a{i}", "    model: scripted",
                  "    script:"]
        for j in range(steps // 2):
            lines += ["      - tool: write_file", f"        args: {{path: f{j}.txt, content: 'hello {j}'}}",
                      "      - tool: read_file", f"        args: {{path: f{j}.txt}}"]
        lines += ["      - tool: finish", "        args: {summary: done}"]
    path.write_text("\n".join(lines) + "\n")


def bare_file_ops(base: Path, agents: int, steps: int) -> float:
    """The same files written and read by a plain Python loop: the floor this disk sets."""
    t = time.perf_counter()
    for i in range(agents):
        ws = base / "bare" / f"a{i}"
        ws.mkdir(parents=True)
        for j in range(steps // 2):
            (ws / f"f{j}.txt").write_text(f"hello {j}")
            (ws / f"f{j}.txt").read_text()
    return time.perf_counter() - t


def timed(argv: list[str], cwd: Path, stdout) -> float:
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentorch-bench-cli-") as tmp:
        base = Path(tmp)
        team = base / "team.yaml"
        write_team(team, args.agents, args.steps)
        startup = min(timed([*CLI, "--help"], ROOT, subprocess.DEVNULL) for _ in range(3))
        load = min(timed([*CLI, "check", str(team)], ROOT, subprocess.DEVNULL) for _ in range(2))
        out = base / "events.jsonl"
        with out.open("w") as fh:
            wall = timed([*CLI, str(team), "--headless", "--db", str(base / "state.db")], base, fh)
        calls, first, finished = 0, None, None
        for line in out.open():
            event = json.loads(line)
            if event["type"] == "tool_call":
                calls += 1
                first = first if first is not None else event["ts"]
            elif event["type"] == "run_finished":
                finished = event["ts"]
        engine = (finished - first) if first and finished else float("nan")
        bare = bare_file_ops(base, args.agents, args.steps)
        print(f"{args.agents} agents x {args.steps + 1} tool calls (write_file/read_file, local) "
              f"through the CLI: {calls} calls")
        print(f"  end to end: {wall:.2f} s = {calls / wall:,.0f} calls/s (target >= 10,000/s)")
        print(f"  engine part (first tool_call -> run_finished): {engine:.2f} s = "
              f"{calls / engine:,.0f} calls/s, {engine / calls * 1e6:.0f} us per call")
        print(f"  baselines in this run: interpreter + imports {startup:.2f} s; "
              f"`check` of the team file {load:.2f} s (incl. start-up); the same file writes and "
              f"reads in a bare Python loop {bare:.2f} s ({engine / bare:.1f}x of it for the engine part)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
