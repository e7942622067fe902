"""Incremental checkpoints in Docker: the supervisor lists the workspace inside the
container and reads only what changed, yet each checkpoint holds exactly what the
workspace holds (compared with reading every file again), whatever changed; what the
sandbox user cannot read comes through the daemon; a symlink swapped in during a
checkpoint never makes it record a file outside the workspace (real Docker)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from checkpoint_support import Agent, checkpointer, clone, committed, full_tree
from docker_support import make_spec, require_docker

from engine.workspaces import take_checkpoint
from sandboxes.docker import DockerSandbox
from sandboxes.workspaces.checkpoint import Checkpointer
from sandboxes.workspaces.git import git_text, run_git
from sandboxes.workspaces.lister import parse_list
from sandboxes.workspaces.repo import EngineRepo, give_tree

pytestmark = pytest.mark.docker


@contextlib.asynccontextmanager
async def agent_sandbox(tmp_path: Path, files: dict[str, str], session: bool = True
                        ) -> AsyncIterator[tuple[EngineRepo, Path, DockerSandbox, Checkpointer]]:
    require_docker()
    repo, ws = clone(tmp_path, files)
    give_tree(ws, 1000, 1000)
    sb = DockerSandbox(make_spec(ws, agent_id="a", run_id="ckpt"))
    await sb.start()
    if not session:  # as without a C compiler for the supervisor: one exec per command
        sb._fallback = "no supervisor in this test"  # noqa: SLF001
    try:
        yield repo, ws, sb, checkpointer(repo)
    finally:
        await sb.stop()


@pytest.mark.parametrize(("seed", "session"), [(0, True), (1, True), (2, False)])
async def test_every_checkpoint_holds_exactly_the_workspace(tmp_path, seed, session):
    files = {"README.md": "hello\n", "src/app.py": "x = 1\n", "src/lib/u.py": "u\n"}
    async with agent_sandbox(tmp_path, files, session) as (repo, ws, sb, cpr):
        agent = Agent(ws, seed)
        done = []
        for _ in range(25 if session else 12):
            for _ in range(agent.rng.randint(1, 3)):
                done.append(agent.act())
            cp = await take_checkpoint(sb, cpr, "step")
            head = cp.commit if cp else cpr.parent
            assert committed(repo, head) == full_tree(ws), done[-3:]
    fsck = run_git(["fsck", "--strict", "--no-dangling"], git_dir=repo.git_dir, check=False)
    assert fsck.returncode == 0, fsck.stderr


async def test_changes_made_inside_the_container_and_what_the_agent_cannot_read(tmp_path):
    """Changes by the sandbox user, including names that are not UTF-8 or hold a newline,
    and a file and a folder it made unreadable after changing them: the daemon reads
    those (as root), so the checkpoint still holds their new bytes."""
    files = {"keep.txt": "keep\n", "secret.txt": "v1\n", "d/inner.txt": "in\n", "run.sh": "echo\n"}
    async with agent_sandbox(tmp_path, files) as (repo, ws, sb, cpr):
        assert await take_checkpoint(sb, cpr, "first") is None
        r = await sb.exec(
            "echo v2 > secret.txt && chmod 000 secret.txt && echo in2 > d/inner.txt && chmod 000 d"
            " && chmod +x run.sh && ln -s keep.txt link && mkdir -p new/deep && echo n > new/deep/f"
            " && echo x > \"$(printf 'caf\\351')\" && echo y > \"$(printf 'new\\nline')\""
            " && dd if=/dev/zero of=big.bin bs=1M count=9 2>/dev/null", 30)
        assert r.exit_code == 0, r.output
        assert b"\0!\0" in (await sb.run_supervisor(["--list", "/workspace"]))[1], "d is not listable"
        cp = await take_checkpoint(sb, cpr, "changes")
        assert cp is not None and not cp.unreadable and cp.skipped == ["big.bin"]
        show = lambda spec: git_text(["cat-file", "-p", spec], git_dir=repo.git_dir)  # noqa: E731
        assert show(f"{cp.commit}:secret.txt") == "v2" and show(f"{cp.commit}:d/inner.txt") == "in2"
        assert show(f"{cp.commit}:link") == "keep.txt"
        tree = committed(repo, cp.commit)
        assert tree[b"run.sh"][0] == "100755" and tree[b"link"][0] == "120000"
        assert {b"caf\xe9", b"new\nline", b"new/deep/f"} <= tree.keys()
        assert tree == full_tree(ws)  # read from here as root: every file is readable
        # back to readable, then gone: both show
        r = await sb.exec("chmod 755 d && chmod 644 secret.txt && rm -r d secret.txt", 30)
        assert r.exit_code == 0, r.output
        cp = await take_checkpoint(sb, cpr, "removed")
        assert cp is not None and sorted(cp.changed) == ["d/inner.txt", "secret.txt"]


async def test_a_file_rewritten_right_after_a_listing_is_read_again(tmp_path):
    """Same size, same second: a file changed within the racy window never keeps its
    signature from one listing to the next, so it is read again."""
    async with agent_sandbox(tmp_path, {"f.txt": "0000\n"}) as (repo, ws, sb, cpr):
        await sb.exec("echo 1111 > f.txt", 10)
        first = parse_list((await sb.run_supervisor(["--list", "/workspace"]))[1])
        second = parse_list((await sb.run_supervisor(["--list", "/workspace"]))[1])
        assert first.signatures[b"f.txt"] != second.signatures[b"f.txt"]
        for i in range(2, 6):  # each rewrite a checkpoint, whatever the clock's tick
            await sb.exec(f"echo {i}{i}{i}{i} > f.txt", 10)
            cp = await take_checkpoint(sb, cpr, "rewrite")
            assert cp is not None, i
            assert git_text(["cat-file", "-p", f"{cp.commit}:f.txt"], git_dir=repo.git_dir) == f"{i}" * 4


OUTSIDE = "OUTSIDE THE WORKSPACE 4242"
RACER = (f"mkdir -p /tmp/out && echo '{OUTSIDE}' > /tmp/out/f.txt && ln -s /tmp/out d.link"
         " && ln -s /tmp/out/f.txt g.link && { setsid sh -c ': > /tmp/racing;"
         " while :; do mv d d.x; mv d.link d; mv d d.link; mv d.x d;"
         " mv g.txt g.x; mv g.link g.txt; mv g.txt g.link; mv g.x g.txt; done"
         "' >/dev/null 2>&1 & }"
         " && while [ ! -e /tmp/racing ]; do sleep 0.01; done")  # in its own session now


async def test_a_symlink_swap_during_checkpoints_never_records_a_file_outside(tmp_path):
    """A racer in the container keeps swapping a folder and a file for symlinks to a
    folder and a file outside /workspace while checkpoints list and read: no object in
    the engine's repository ever holds the outside file's bytes."""
    files = {"d/f.txt": "agent data\n", "g.txt": "mine\n", **{f"pad{i}.txt": "x\n" for i in range(30)}}
    async with agent_sandbox(tmp_path, files) as (repo, ws, sb, cpr):
        await sb.hold_sweeps(True)  # the racer outlives the command that starts it
        try:
            r = await sb.exec(RACER, 10)
            assert r.exit_code == 0, r.output
            checkpoints = 0
            for _ in range(150):
                checkpoints += await take_checkpoint(sb, cpr, "race") is not None
        finally:
            await sb.hold_sweeps(False)
    everything = run_git(["cat-file", "--batch-all-objects", "--batch"], git_dir=repo.git_dir).stdout
    assert OUTSIDE.encode() not in everything
    assert checkpoints > 20, checkpoints
