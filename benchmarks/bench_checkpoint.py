"""Checkpoint and clone cost for `repo:` (measured and printed, not asserted).

    .venv/bin/python benchmarks/bench_checkpoint.py [--files 1000 10000] [--rounds 10]

For a repository of N files (spread over N/50 folders, ~200 bytes each):
1. clone per agent: EngineRepo.clone_into (`git clone --no-local` from the engine's repo);
2. checkpoint after a one-file change, local backend (descriptor walk against the last
   walk's stat signatures; loose objects for the changed folders' trees);
3. the same in Docker: the supervisor lists the workspace inside the container and reads
   only the changed file, both through the exec session (and, once, the whole workspace
   as one archive: the path without a session);
4. baseline: `git add -A && git commit` in a plain clone (host git in the tree, which
   agentorch never does), the cost a naive design would pay.
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


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.1f} ms (min {min(samples) * 1e3:.1f})"


async def docker_rounds(workspace: Path, cpr: Checkpointer, rounds: int) -> list[float] | None:
    from sandboxes.docker import TEST_IMAGE, DockerSandbox, docker_available

    if not docker_available(timeout=3):
        return None
    sb = DockerSandbox(SandboxSpec(backend="docker", workspace=workspace, run_id="bench",
                                   agent_id="d", image=TEST_IMAGE))
    await sb.start()
    try:
        t = time.perf_counter()
        await asyncio.to_thread(lambda: cpr.take(listed_changes(sb, None, {}), "x"))
        print(f"  docker: one full archive of the workspace (incl. .git) {(time.perf_counter() - t) * 1e3:.0f} ms")
        t = time.perf_counter()
        await take_checkpoint(sb, cpr, "first listed")
        print(f"  docker: first listed checkpoint (all files read) {(time.perf_counter() - t) * 1e3:.0f} ms")
        await asyncio.sleep(SETTLE)
        await take_checkpoint(sb, cpr, "settled")
        out = []
        for r in range(rounds):
            await sb.exec(f"echo d{r} >> pkg0000/mod00000.py", 30)
            t = time.perf_counter()
            cp = await take_checkpoint(sb, cpr, "bench")
            out.append(time.perf_counter() - t)
            assert cp is not None and cp.changed == ["pkg0000/mod00000.py"], cp
        return out
    finally:
        await sb.stop()


def bench(n: int, rounds: int, base: Path) -> None:
    user = base / f"user{n}"
    make_repo(user, n)
    state = base / f"state{n}"
    repo = EngineRepo.for_project(state, user)
    t = time.perf_counter()
    commit = repo.fetch_base(user / ".git", "main")
    fetch = time.perf_counter() - t
    clones = []
    for i in range(3):
        t = time.perf_counter()
        repo.clone_into(base / f"ws{n}-{i}", "bench", f"a{i}", commit, None)
        clones.append(time.perf_counter() - t)
    print(f"{n} files: first fetch into the engine's repo {fetch * 1e3:.0f} ms; "
          f"clone per agent {ms(clones)}")
    ws = base / f"ws{n}-0"
    cpr = Checkpointer(repo, "bench", "a0")
    t = time.perf_counter()
    assert cpr.take(local_changes(str(ws), cpr.signatures), "first") is None
    first = time.perf_counter() - t
    time.sleep(SETTLE)
    cpr.take(local_changes(str(ws), cpr.signatures), "settled")
    local = []
    for r in range(rounds):
        with open(ws / "pkg0000" / "mod00000.py", "a") as f:
            f.write(f"# {r}\n")
        t = time.perf_counter()
        cp = cpr.take(local_changes(str(ws), cpr.signatures), "bench")
        local.append(time.perf_counter() - t)
        assert cp is not None and cp.changed == ["pkg0000/mod00000.py"]
    print(f"  local: first scan (all files read and hashed) {first * 1e3:.0f} ms; "
          f"after a one-file change {ms(local)}")
    dws = base / f"ws{n}-1"
    dcpr = Checkpointer(repo, "bench", "a1")
    if os.geteuid() == 0:
        from sandboxes.workspaces.repo import give_tree

        give_tree(dws, 1000, 1000)
    dk = asyncio.run(docker_rounds(dws, dcpr, rounds))
    print(f"  docker (list + read in the sandbox): after a one-file change {ms(dk) if dk else 'skipped (no Docker)'}")
    plain = base / f"ws{n}-2"
    naive = []
    for r in range(rounds):
        with open(plain / "pkg0000" / "mod00000.py", "a") as f:
            f.write(f"# {r}\n")
        t = time.perf_counter()
        git(plain, "add", "-A")
        git(plain, "commit", "-qm", "x")
        naive.append(time.perf_counter() - t)
    print(f"  baseline git add -A && git commit in the tree: {ms(naive)}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cp-") as tmp:
        for n in args.files:
            bench(n, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
