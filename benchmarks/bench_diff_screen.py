"""Diff screen open time for a 5,000-line diff: a scripted agent on a `repo:` team
writes 10 Python files of 500 lines each; the control center runs under Textual's
pilot (headless, 120x40).  Measured: from the key (`v`) to the diff loaded and its
first screen rendered, and the event-loop lag while it opens.  Baselines from the same
run: `git diff` alone, an empty screen with the same footer, and styling every line of
the diff up front (what a non-lazy view would do before showing anything).  Goal: open in < 500 ms, lag p99 < 50 ms.

    .venv/bin/python benchmarks/bench_diff_screen.py [--lines 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402
from textual.app import ComposeResult  # noqa: E402
from textual.screen import Screen  # noqa: E402
from textual.widgets import Footer, Static  # noqa: E402

from engine import events as ev  # noqa: E402
from engine.loader import load_team  # noqa: E402
from engine.run import Engine  # noqa: E402
from engine.workspace_diff import load_diff  # noqa: E402
from memory.store import Store  # noqa: E402
from tui.app import make_app  # noqa: E402
from tui.screens.diff import DiffScreen  # noqa: E402
from tui.widgets.diff_view import lexer_for, styled_line  # noqa: E402

FILES = 10


class EmptyScreen(Screen[None]):
    BINDINGS = DiffScreen.BINDINGS

    def compose(self) -> ComposeResult:
        yield Static("empty")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
LAG_TICK = 0.002


def source(n: int, lines: int) -> str:
    return "".join(f"def f{n}_{i}(x: int) -> int:  # line {i}\n    return x * {i} + {n}\n"[:60]
                   if i % 2 == 0 else f"VALUE_{n}_{i} = {{'k': [{i}, {n}], 's': \"text {i}\"}}\n"
                   for i in range(lines))


def setup(tmp: Path, total: int) -> Path:
    repo = tmp / "proj"
    repo.mkdir()
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp),
           "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b", "PATH": "/usr/bin:/bin"}
    (repo / "README.md").write_text("bench\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(["git", "-C", str(repo), *args], env=env, check=True)
    per_file = total // FILES
    script = [{"tool": "write_file", "args": {"path": f"src/mod{n}.py", "content": source(n, per_file)}}
              for n in range(FILES)]
    team = {"name": "bench", "repo": "proj", "sandbox": {"backend": "local"},
            "agents": [{"id": "coder", "script": [*script, {"tool": "finish", "args": {"summary": "ok"}}]}]}
    path = tmp / "team.yaml"
    path.write_text(yaml.safe_dump(team))
    return path


async def lag_sampler(samples: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(LAG_TICK)
        samples.append(loop.time() - t0 - LAG_TICK)


async def one_run(tmp: Path, total: int, runs: int) -> dict[str, list[float]]:
    team_path = setup(tmp, total)
    team = load_team(team_path)
    out: dict[str, list[float]] = {"open": [], "lag": [], "git": [], "eager": [], "empty": []}

    async def factory():
        store = await Store.open(tmp / "state.db")
        return Engine(team, store, config_path=str(team_path), backend="local"), store

    app = make_app(factory, blink_cursors=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.state is None or app.state.agents["coder"].status != ev.DONE:
            await pilot.pause(0.05)
        for _ in range(runs):
            samples: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(lag_sampler(samples, stop))
            t0 = time.perf_counter()
            await pilot.press("v")
            screen = app.screen
            assert isinstance(screen, DiffScreen)
            await screen.loaded.wait()
            await pilot.pause()  # the first frame of the diff
            out["open"].append(time.perf_counter() - t0)
            stop.set()
            await sampler
            out["lag"].extend(samples)
            lines = len(screen.diff.lines)
            await pilot.press("escape")
            await pilot.pause()
        for _ in range(runs):  # baseline: a screen with nothing but the same footer
            t0 = time.perf_counter()
            await app.push_screen(EmptyScreen())
            await pilot.pause()
            out["empty"].append(time.perf_counter() - t0)
            await pilot.press("escape")
            await pilot.pause()
        diff_src = screen.diff
        repo = screen.source.repo
        for _ in range(runs):
            t0 = time.perf_counter()
            load_diff(repo, diff_src.since, diff_src.until)
            out["git"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for f in diff_src.files:
            lexer = lexer_for(f.path)
            for line in diff_src.lines[f.start:f.end]:
                styled_line(line, lexer)
        out["eager"].append(time.perf_counter() - t0)
    print(f"diff of {lines} lines in {len(diff_src.files)} files")
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(one_run(Path(tmp), args.lines, args.runs))
    ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
    opened = statistics.median(r["open"])
    print(f"open (key to first frame): median {ms(opened)}, max {ms(max(r['open']))} "
          f"over {args.runs} opens")
    print(f"event-loop lag while opening: p50 {ms(pct(r['lag'], 50))}, p99 {ms(pct(r['lag'], 99))}, "
          f"max {ms(max(r['lag'], default=0))}")
    git = statistics.median(r["git"])
    print(f"baseline: reading the diff (git numstat + patch, parsed): {ms(git)} "
          f"(open = {opened / git:.1f}x that)")
    empty = statistics.median(r["empty"])
    print(f"baseline: opening an empty screen with the same footer: {ms(empty)} "
          f"(open = {opened / empty:.1f}x that)")
    print(f"baseline: styling every line up front: {ms(r['eager'][0])} "
          f"(a lazy open is {r['eager'][0] / opened:.1f}x faster than that alone)")
    print(f"goal: open < 500 ms: {'met' if opened < 0.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
