"""Docker sandbox benchmarks (measured and printed, not asserted).

    .venv/bin/python benchmarks/bench_docker.py [--image IMAGE] [--rounds N]

1. run_command round trip of `true`: DockerSandbox.exec (over the exec session)
   vs raw docker-py `exec_run` against the same container, interleaved
   (target: median <= 1/10 of exec_run, goal ~1 ms).
2. 20 agents each running 100 small commands at once: commands per second,
   DockerSandbox.exec vs raw exec_run on the same containers.
3. time until 10 agents' containers are ready: parallel start vs one by one.
4. console throughput: lines per second from a container's output to on_output,
   through the session vs one docker exec per command (the fallback path).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandboxes.base import SandboxSpec  # noqa: E402
from sandboxes.docker import TEST_IMAGE, DockerSandbox, _get_client, docker_available  # noqa: E402


def spec(base: Path, name: str, image: str) -> SandboxSpec:
    return SandboxSpec(backend="docker", workspace=base / name, run_id="bench", agent_id=name,
                       image=image)


async def bench_round_trip(base: Path, image: str, rounds: int) -> dict:
    sb = DockerSandbox(spec(base, "rt", image))
    await sb.start()
    try:
        container = _get_client().containers.get(sb.container_id)
        for _ in range(3):  # warm up both paths
            await sb.exec("true", 30)
            await asyncio.to_thread(container.exec_run, ["sh", "-c", "true"])
        ours, raw = [], []
        for _ in range(rounds * 10):  # ours is cheap: more samples for its p99
            t = time.perf_counter()
            r = await sb.exec("true", 30)
            ours.append(time.perf_counter() - t)
            assert r.exit_code == 0
        for _ in range(rounds):
            t = time.perf_counter()
            res = await asyncio.to_thread(container.exec_run, ["sh", "-c", "true"])
            raw.append(time.perf_counter() - t)
            assert res.exit_code == 0
    finally:
        await sb.stop()
    ours_ms, raw_ms = statistics.median(ours) * 1e3, statistics.median(raw) * 1e3
    return {"ours_ms": ours_ms, "raw_ms": raw_ms, "ratio": ours_ms / raw_ms,
            "ours_p99": p99(ours) * 1e3, "raw_p99": p99(raw) * 1e3, "n_ours": len(ours)}


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def bench_many_agents(base: Path, image: str, agents: int = 20, commands: int = 100) -> dict:
    boxes = [DockerSandbox(spec(base, f"many{i}", image)) for i in range(agents)]
    await asyncio.gather(*(b.start() for b in boxes))
    try:
        async def ours(sb: DockerSandbox) -> None:
            for i in range(commands):
                r = await sb.exec(f"echo {i} > /tmp/n && cat /tmp/n", 30)
                assert r.exit_code == 0

        t = time.perf_counter()
        await asyncio.gather(*(ours(b) for b in boxes))
        ours_s = time.perf_counter() - t

        client = _get_client()

        def raw(cid: str) -> None:
            container = client.containers.get(cid)
            for i in range(commands):
                res = container.exec_run(["sh", "-c", f"echo {i} > /tmp/n && cat /tmp/n"])
                assert res.exit_code == 0

        t = time.perf_counter()
        await asyncio.gather(*(asyncio.to_thread(raw, b.container_id) for b in boxes))
        raw_s = time.perf_counter() - t
    finally:
        await asyncio.gather(*(b.stop() for b in boxes))
    total = agents * commands
    return {"agents": agents, "commands": commands, "ours_per_s": total / ours_s,
            "raw_per_s": total / raw_s}


async def bench_start(base: Path, image: str, n: int = 10) -> dict:
    boxes = [DockerSandbox(spec(base, f"seq{i}", image)) for i in range(n)]
    t = time.perf_counter()
    for b in boxes:
        await b.start()
    sequential = time.perf_counter() - t
    await asyncio.gather(*(b.stop() for b in boxes))
    boxes = [DockerSandbox(spec(base, f"par{i}", image)) for i in range(n)]
    t = time.perf_counter()
    await asyncio.gather(*(b.start() for b in boxes))
    parallel = time.perf_counter() - t
    await asyncio.gather(*(b.stop() for b in boxes))
    return {"n": n, "sequential_s": sequential, "parallel_s": parallel}


async def bench_throughput(base: Path, image: str, lines: int = 500_000,
                           session: bool = True) -> dict:
    sb = DockerSandbox(spec(base, "tp" if session else "tp-exec", image))
    await sb.start()
    if not session:
        sb._fallback = "benchmark baseline: one exec per command"  # the pre-session path
    seen = 0

    async def on_output(text: str) -> None:
        nonlocal seen
        seen += text.count("\n")

    try:
        t = time.perf_counter()
        r = await sb.exec(f"seq 1 {lines}", 120, on_output)
        elapsed = time.perf_counter() - t
    finally:
        await sb.stop()
    assert r.exit_code == 0 and seen >= lines, (r.exit_code, seen)  # + the fallback note
    return {"lines": lines, "seconds": elapsed, "lines_per_s": lines / elapsed}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=TEST_IMAGE)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    if not docker_available():
        print("bench_docker: no Docker daemon; skipped")
        return 0
    with tempfile.TemporaryDirectory(prefix="agentorch-bench-") as tmp:
        base = Path(tmp)
        rt = await bench_round_trip(base, args.image, args.rounds)
        print(f"run_command round trip (`true`): DockerSandbox.exec median {rt['ours_ms']:.2f} ms, "
              f"p99 {rt['ours_p99']:.2f} ms (n={rt['n_ours']}) vs raw exec_run median "
              f"{rt['raw_ms']:.1f} ms, p99 {rt['raw_p99']:.1f} ms (n={args.rounds}) "
              f"-> {1 / rt['ratio']:.0f}x faster (target >= 10x)")
        many = await bench_many_agents(base, args.image)
        print(f"{many['agents']} agents x {many['commands']} small commands at once: "
              f"{many['ours_per_s']:,.0f} commands/s vs raw exec_run {many['raw_per_s']:,.0f}/s "
              f"({many['ours_per_s'] / many['raw_per_s']:.1f}x)")
        st = await bench_start(base, args.image)
        print(f"{st['n']} containers ready: parallel {st['parallel_s']:.2f} s vs one by one "
              f"{st['sequential_s']:.2f} s ({st['sequential_s'] / st['parallel_s']:.1f}x faster)")
        tp = await bench_throughput(base, args.image)
        old = await bench_throughput(base, args.image, session=False)
        print(f"console throughput: {tp['lines']} lines in {tp['seconds']:.2f} s = "
              f"{tp['lines_per_s']:,.0f} lines/s through the session vs "
              f"{old['lines_per_s']:,.0f} lines/s with one exec per command "
              f"({tp['lines_per_s'] / old['lines_per_s']:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
