"""`repo:` on a remote Docker daemon: shipping a clone into its volume, and checkpoints
(measured and printed, not asserted).

    .venv/bin/python benchmarks/bench_remote.py [--files 1000 10000] [--rounds 10] [--ssh]

A second dockerd (tests/remote_daemon.py: root, dockerd and unshare needed) stands in for
the machine far away, reached over its Unix socket, or with ``--ssh`` through
``DOCKER_HOST=ssh://`` and a stand-in ``ssh`` on PATH that runs the far side here (so the
figures hold no network: add your round trips).  For a repository of N files (~200
bytes each, 50 per folder):

1. the clone made here in the engine's area (`git clone --no-local`);
2. the sandbox's start with that clone shipped into a fresh volume as one tar stream
   (archive API), against the same start with an empty volume: the difference is the
   shipping;
3. a checkpoint after a one-file change (engine.workspaces.take_checkpoint: the listing
   and the changed file read inside the container over the session).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_checkpoint import make_repo  # noqa: E402
from engine.workspaces import take_checkpoint  # noqa: E402
from sandboxes.base import SandboxSpec  # noqa: E402
from sandboxes.workspaces.checkpoint import Checkpointer  # noqa: E402
from sandboxes.workspaces.repo import EngineRepo  # noqa: E402
from tests.remote_daemon import docker_cli, second_daemon_running  # noqa: E402

SSH_SHIM = """#!/bin/sh
while [ $# -gt 0 ]; do a="$1"; shift; [ "$a" = "--" ] && break; done
shift
DOCKER_HOST="{host}" exec sh -c "$*"
"""


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.1f} ms (min {min(samples) * 1e3:.1f})"


def tree_bytes(top: Path) -> int:
    return sum(f.stat().st_size for f in top.rglob("*") if f.is_file() and not f.is_symlink())


async def one(n: int, rounds: int, base: Path) -> None:
    from sandboxes.docker import TEST_IMAGE, DockerSandbox

    user = base / f"user{n}"
    make_repo(user, n)
    repo = EngineRepo.for_project(base / f"state{n}", user)
    commit = repo.fetch_base(user / ".git", "main")
    seed = base / f"seed{n}"
    t = time.perf_counter()
    repo.clone_into(seed, f"bench{n}", "a", commit, None)
    clone = time.perf_counter() - t
    size = tree_bytes(seed)

    def spec(agent: str, seeded: Path | None) -> SandboxSpec:
        return SandboxSpec(backend="docker", workspace=base / "unused", run_id=f"bench{n}",
                           agent_id=agent, image=TEST_IMAGE, remote=True, seed=seeded)

    empty = DockerSandbox(spec("empty", None))
    t = time.perf_counter()
    await empty.start()
    bare = time.perf_counter() - t
    await empty.stop()
    sb = DockerSandbox(spec("a", seed))
    t = time.perf_counter()
    await sb.start()
    shipped = time.perf_counter() - t
    print(f"{n} files ({size / 1e6:.1f} MB with .git): clone here {clone * 1e3:.0f} ms; "
          f"start with it shipped into the volume {shipped * 1e3:.0f} ms against "
          f"{bare * 1e3:.0f} ms with an empty one (shipping ~{(shipped - bare) * 1e3:.0f} ms)")
    try:
        cpr = Checkpointer(repo, f"bench{n}", "a")
        t = time.perf_counter()
        assert await take_checkpoint(sb, cpr, "first") is None
        first = time.perf_counter() - t
        out = []
        for r in range(rounds):
            await sb.exec(f"echo d{r} >> pkg0000/mod00000.py", 30)
            t = time.perf_counter()
            cp = await take_checkpoint(sb, cpr, "bench")
            out.append(time.perf_counter() - t)
            assert cp is not None and cp.changed == ["pkg0000/mod00000.py"], cp
        true = []
        for _ in range(50):
            t = time.perf_counter()
            await sb.exec("true", 10)
            true.append(time.perf_counter() - t)
        print(f"  checkpoint: first (every file fetched) {first * 1e3:.0f} ms; after a one-file "
              f"change {ms(out)}; a `true` command {ms(true)}")
    finally:
        await sb.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--ssh", action="store_true", help="DOCKER_HOST=ssh:// through a stand-in ssh")
    args = p.parse_args()
    with second_daemon_running() as (host, _), tempfile.TemporaryDirectory(prefix="bench-rr-") as tmp:
        os.environ["DOCKER_HOST"] = host
        if args.ssh:
            shim = Path(tmp) / "bin" / "ssh"
            shim.parent.mkdir()
            shim.write_text(SSH_SHIM.format(host=host))
            shim.chmod(0o755)
            os.environ["PATH"] = f"{shim.parent}:{os.environ['PATH']}"
            os.environ["DOCKER_HOST"] = "ssh://bench@far"
        import sandboxes.docker_client as client

        client._client = None  # the fixture's checks made one for the default daemon
        print(f"daemon: {os.environ['DOCKER_HOST']} (a second dockerd on this machine)")
        try:
            for n in args.files:
                asyncio.run(one(n, args.rounds, Path(tmp)))
        finally:
            for name in docker_cli(host, "volume", "ls", "-q", text=True).stdout.split():
                if name.startswith("agentorch-ws-bench"):
                    docker_cli(host, "volume", "rm", "-f", name)


if __name__ == "__main__":
    main()
