"""Checkpoint and clone cost for `repo:` (measured and printed, not asserted).

    .venv/bin/python benchmarks/bench_checkpoint.py [--files 1000 10000] [--rounds 10]

For a repository of N files (spread over N/50 folders, ~200 bytes each):
1. clone per agent: EngineRepo.clone_into (`git clone --no-local` from the engine's repo);
2. checkpoint after a one-file change, local backend: the supervisor's lister on the host
   (list, then read the changed file, through the local session), and the walk in Python
   (without a supervisor); both against the last walk's stat signatures, then loose
   objects for the changed folders' trees and one update-ref;
3. the same in Docker: the supervisor lists and reads inside the container, through the
   exec session (and, once, the whole workspace as one archive, incl. .git);
4. baseline: `git add -A && git commit` in a plain clone (host git in the tree, which
   agentorch never does), the cost a naive design would pay.
Each round changes one file in every workspace and times each way once, in turn, so a
change in the machine's load hits all of them alike.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.workspaces import take_checkpoint  # noqa: E402
from sandboxes.base import SandboxSpec  # noqa: E402
from sandboxes.local import LocalSandbox  # noqa: E402
from sandboxes.workspaces.checkpoint import Checkpointer  # noqa: E402
from sandboxes.workspaces.docker_snapshot import listed_changes  # noqa: E402
from sandboxes.workspaces.repo import EngineRepo  # noqa: E402
from sandboxes.workspaces.snapshot import RACY_NS, local_changes  # noqa: E402

ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
       "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@b"}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True)


def make_repo(path: Path, n: int) -> None:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for i in range(n):
        d = path / f"pkg{i // 50:04d}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i:05d}.py").write_text(f"# module {i}\n" + "x = 1\n" * 30)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "start")


#: files written this recently are read again by the next walk (racily clean); a real
#: workspace's files are older than the clone the benchmark just made: wait that out once
SETTLE = RACY_NS / 1e9 + 0.1
FILE = Path("pkg0000") / "mod00000.py"


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.1f} ms (min {min(samples) * 1e3:.1f})"


def touch(ws: Path, r: int) -> None:
    with open(ws / FILE, "a") as f:
        f.write(f"# {r}\n")


async def docker_sandbox(workspace: Path):
    from sandboxes.docker import TEST_IMAGE, DockerSandbox, docker_available

    if not docker_available(timeout=3):
        return None
    if os.geteuid() == 0:
        from sandboxes.workspaces.repo import give_tree

        give_tree(workspace, 1000, 1000)
    sb = DockerSandbox(SandboxSpec(backend="docker", workspace=workspace, run_id="bench",
                                   agent_id="d", image=TEST_IMAGE))
    await sb.start()
    return sb


async def timed(samples: list[float], step) -> None:
    t = time.perf_counter()
    await step()
    samples.append(time.perf_counter() - t)


async def bench(n: int, rounds: int, base: Path) -> None:
    user = base / f"user{n}"
    make_repo(user, n)
    repo = EngineRepo.for_project(base / f"state{n}", user)
    t = time.perf_counter()
    commit = repo.fetch_base(user / ".git", "main")
    fetch = time.perf_counter() - t
    clones = []
    ws = [base / f"ws{n}-{i}" for i in range(4)]
    for i, dest in enumerate(ws):
        t = time.perf_counter()
        repo.clone_into(dest, "bench", f"a{i}", commit, None)
        clones.append(time.perf_counter() - t)
    print(f"{n} files: first fetch into the engine's repo {fetch * 1e3:.0f} ms; "
          f"clone per agent {ms(clones)}")
    local = LocalSandbox(SandboxSpec(backend="local", workspace=ws[0], run_id="bench", agent_id="a0"))
    sb = await docker_sandbox(ws[2])
    cprs = [Checkpointer(repo, "bench", f"a{i}") for i in range(3)]
    try:
        t = time.perf_counter()
        assert await take_checkpoint(local, cprs[0], "first") is None
        print(f"  local: first checkpoint (every file read and hashed) {(time.perf_counter() - t) * 1e3:.0f} ms")
        assert cprs[1].take(local_changes(str(ws[1]), cprs[1].signatures), "first") is None
        if sb is not None:
            t = time.perf_counter()
            await asyncio.to_thread(lambda: cprs[2].take(listed_changes(sb, None, {}), "x"))
            print(f"  docker: one archive of the whole workspace {(time.perf_counter() - t) * 1e3:.0f} ms")
            await take_checkpoint(sb, cprs[2], "first listed")
        await asyncio.sleep(SETTLE)
        await take_checkpoint(local, cprs[0], "settled")
        cprs[1].take(local_changes(str(ws[1]), cprs[1].signatures), "settled")
        if sb is not None:
            await take_checkpoint(sb, cprs[2], "settled")
        times: dict[str, list[float]] = {"local": [], "python": [], "docker": [], "git": []}
        for r in range(rounds):
            for w in ws:
                touch(w, r)

            async def python_walk() -> None:
                cprs[1].take(local_changes(str(ws[1]), cprs[1].signatures), "bench")

            async def plain_git() -> None:
                git(ws[3], "add", "-A")
                git(ws[3], "commit", "-qm", "x")

            await timed(times["local"], lambda: take_checkpoint(local, cprs[0], "bench"))
            await timed(times["python"], python_walk)
            if sb is not None:
                await timed(times["docker"], lambda: take_checkpoint(sb, cprs[2], "bench"))
            await timed(times["git"], plain_git)
        print(f"  after a one-file change: local {ms(times['local'])}; local without a supervisor "
              f"(walk in Python) {ms(times['python'])}; docker "
              f"{ms(times['docker']) if sb is not None else 'skipped (no Docker)'}")
        print(f"  baseline git add -A && git commit in the tree, same rounds: {ms(times['git'])}")
    finally:
        await local.stop()
        if sb is not None:
            await sb.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cp-") as tmp:
        for n in args.files:
            asyncio.run(bench(n, args.rounds, Path(tmp)))


if __name__ == "__main__":
    main()
