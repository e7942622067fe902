"""A racer process swapping names of the workspace between a folder and a symlink to a
host folder, and between a file and a symlink to a host file (atomically, with
`renameat2(RENAME_EXCHANGE)`, as fast as it can) while walks and checkpoints read the
workspace (local backend: the supervisor's lister and the walk in Python, both through
descriptors): no host file content ever enters a snapshot or the engine's repository,
whatever the timing.  Without `O_NOFOLLOW` on the folder or on the file open, the tests
fail (tens of leaks per thousand walks)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from checkpoint_support import checkpointer, clone, walker_fixture  # noqa: F401 - the walker fixture

from sandboxes.workspaces.git import run_git

SECRET = b"HOST SECRET 4242"
#: walks per test (a walk by the supervisor's lister is a command through its session)
ROUNDS = {"python": 1000, "supervisor": 300}

RACER = r"""
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
pairs = [(a.encode(), b.encode()) for a, b in zip(sys.argv[1::2], sys.argv[2::2])]
print("ready", flush=True)
while True:
    for a, b in pairs:
        if libc.renameat2(-100, a, -100, b, 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
            raise SystemExit(ctypes.get_errno())
"""


@contextmanager
def racing(ws: Path, host: Path) -> Iterator[None]:
    """``d`` and ``g.txt`` keep trading places with symlinks to the host folder and file."""
    os.symlink(host, ws / "d.link")
    os.symlink(host / "f.txt", ws / "g.link")
    racer = subprocess.Popen([sys.executable, "-c", RACER, "d", "d.link", "g.txt", "g.link"],
                             cwd=ws, stdout=subprocess.PIPE)
    try:
        assert racer.stdout.readline() == b"ready\n"
        yield
        assert racer.poll() is None, "the racer stopped"
    finally:
        racer.kill()
        racer.wait()


@pytest.fixture
def host(tmp_path: Path) -> Path:
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "f.txt").write_bytes(SECRET)
    return folder


async def test_a_symlink_swap_during_the_walk_never_leaks_a_host_file(tmp_path, host, walker):
    ws = walker.ws
    (ws / "d").mkdir(parents=True)
    (ws / "d" / "f.txt").write_bytes(b"agent data")
    (ws / "g.txt").write_bytes(b"agent file")
    for i in range(50):
        (ws / f"pad{i}.txt").write_text("x")
    seen_agent_data = links = 0
    with racing(ws, host):
        for _ in range(ROUNDS[walker.kind]):
            for entry in (await walker.changes({})).entries:
                assert SECRET not in (entry.data or b""), f"host file read through {entry.path!r}"
                if entry.mode == "120000":
                    assert entry.data in (os.fsencode(host), os.fsencode(host / "f.txt")), \
                        "a link is recorded as its target text"
                    links += 1
                seen_agent_data += entry.data in (b"agent data", b"agent file")
    assert seen_agent_data > 0 and links > 0, (seen_agent_data, links)


async def test_symlink_swaps_during_incremental_checkpoints_never_leak_a_host_file(tmp_path, host, walker):
    """The same while checkpoints read only what changed since the last walk: no object in
    the engine's repository ever holds the host file's bytes."""
    repo, ws = clone(tmp_path, {"d/f.txt": "agent data\n", "g.txt": "mine\n",
                                **{f"pad{i}.txt": "x\n" for i in range(50)}})
    cpr = checkpointer(repo)
    checkpoints = 0
    with racing(ws, host):
        for _ in range(ROUNDS[walker.kind]):
            changes = await walker.changes(cpr.signatures, cpr.horizon)
            for entry in changes.entries:
                assert SECRET not in (entry.data or b""), f"host file read through {entry.path!r}"
            checkpoints += cpr.take(changes, "race") is not None
    assert checkpoints > 50, checkpoints
    everything = run_git(["cat-file", "--batch-all-objects", "--batch"], git_dir=repo.git_dir).stdout
    assert SECRET not in everything
