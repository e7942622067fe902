"""A clone of `repo:` never fills a disk silently (issue 15): its size is known before it
is made and held against each agent's limit (`resources.disk`, or the team's
`clone_limit:`) and the free space; Git LFS files arrive as their pointer files."""

from __future__ import annotations

import os
import subprocess

import pytest
from engine_support import make_team, run_to_end, start, step
from git_repos import make_repo, user_git

from engine.clone_limits import space_problem
from sandboxes.base import SandboxError
from sandboxes.workspaces.clone_size import CloneSize, clone_size
from sandboxes.workspaces.repo import EngineRepo, resolve_base

POINTER = ("version https://git-lfs.github.com/spec/v1\n"
           "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
           "size 734003200\n")


def big_repo(tmp_path, kib: int = 300):
    """A real repository holding ``kib`` KiB that do not compress (random bytes)."""
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    (repo / "data.bin").write_bytes(os.urandom(kib * 1024))
    user_git(repo, "add", "-A")
    user_git(repo, "commit", "-q", "-m", "data")
    return repo


async def refused(team, tmp_path) -> str:
    with pytest.raises(SandboxError) as caught:
        await start(team, tmp_path)
    return str(caught.value)


async def test_a_clone_over_the_agents_disk_limit_is_refused_before_it_is_made(tmp_path):
    big_repo(tmp_path)
    team = make_team(tmp_path, [{"id": "a", "resources": {"disk": "100k"}}], repo="proj")
    text = await refused(team, tmp_path)
    assert text.startswith(f"the clone of {tmp_path / 'proj'} (main) would take about ")
    assert "over a's `resources.disk` of 100.0 KiB; raise that limit" in text
    assert "2 files, 300.0 KiB checked out" in text
    assert not (tmp_path / ".agentorch" / "workspaces").exists() or not any(
        (tmp_path / ".agentorch" / "workspaces").rglob("README.md")), "nothing was cloned"


async def test_the_teams_clone_limit_holds_for_agents_without_a_disk_limit(tmp_path):
    big_repo(tmp_path)
    team = make_team(tmp_path, [{"id": "a"}, {"id": "b", "resources": {"disk": "1g"}}],
                     repo="proj", clone_limit="200k")
    text = await refused(team, tmp_path)
    assert "over the team's `clone_limit` of 200.0 KiB" in text


async def test_under_the_limit_the_clone_is_made(tmp_path):
    big_repo(tmp_path, kib=40)
    team = make_team(tmp_path, [{"id": "a", "resources": {"disk": "1m"},
                                 "script": [step("run_command", command="wc -c < data.bin")]}],
                     repo="proj")
    engine, w, store = await run_to_end(team, tmp_path)
    await store.close()
    assert w.results("a")[0]["result"]["output"].strip() == str(40 * 1024)


def test_the_estimate_counts_blocks_and_history(tmp_path):
    repo = big_repo(tmp_path, kib=64)
    er = EngineRepo.for_project(tmp_path, repo)
    git_dir, branch = resolve_base(repo, None)
    size = clone_size(er, er.fetch_base(git_dir, branch))
    assert (size.files, size.content) == (2, 64 * 1024 + 6)
    assert size.history >= 64 * 1024  # random bytes do not compress
    assert size.on_disk >= 64 * 1024 + 4096 + size.history
    assert size.lfs is False


def test_clones_that_would_not_fit_on_the_disk_are_refused(tmp_path):
    huge = CloneSize(files=3, content=1 << 50, on_disk=1 << 50, history=0, lfs=False)
    places = [tmp_path / "ws" / "a", tmp_path / "ws" / "b"]
    text = space_problem(places, huge, "proj (main)")
    assert text is not None
    assert text.startswith("cloning proj (main) for 2 agent(s) needs about ")
    assert f"is free on the disk of {tmp_path}; free some space there" in text
    small = CloneSize(files=1, content=10, on_disk=4096, history=0, lfs=False)
    assert space_problem(places, small, "proj (main)") is None


async def test_git_lfs_files_arrive_as_their_pointers_and_a_notice_says_so(tmp_path):
    repo = make_repo(tmp_path / "proj", {
        ".gitattributes": "*.iso filter=lfs diff=lfs merge=lfs -text\n", "disk.iso": POINTER})
    subprocess.run(["git", "-C", str(repo), "config", "filter.lfs.required", "true"], check=True)
    team = make_team(tmp_path, [{"id": "a", "resources": {"disk": "1m"},
                                 "script": [step("read_file", path="disk.iso")]}], repo="proj")
    engine, w, store = await run_to_end(team, tmp_path)
    await store.close()
    assert w.results("a")[0]["result"]["content"] == POINTER  # 700 MB announced, 170 B cloned
    notes = [e.data["text"] for e in w.find("notice") if "Git LFS" in e.data.get("text", "")]
    assert notes == [f"{repo} keeps files in Git LFS: the agents' clones hold their pointer "
                     "files, not the files (the engine never runs LFS filters)"]


@pytest.mark.docker
async def test_with_a_disk_limit_the_clone_is_made_inside_its_own_file_system(tmp_path):
    """As root with Docker: the workspace's loop-mounted file system of `resources.disk`
    holds the clone from its first byte (so the kernel, not a measurement, bounds it)."""
    from docker_support import require_docker

    from sandboxes.docker import TEST_IMAGE
    from sandboxes.workspace_disk import _tool

    require_docker()
    if os.geteuid() != 0 or not _tool("mkfs.ext4"):
        pytest.skip("the file-system limit needs root and mkfs.ext4")
    big_repo(tmp_path, kib=40)
    team = make_team(tmp_path, [{"id": "a", "resources": {"disk": "16m"}, "script": [
        step("run_command", command="ls -A; wc -c < data.bin; echo new > new.txt && id -u")]}],
        sandbox={"backend": "docker", "image": TEST_IMAGE}, repo="proj")
    try:
        engine, w, store = await run_to_end(team, tmp_path, timeout=90)
        await store.close()
        ws = team.workspace_of(team.agents[0], engine.run_id)
        assert os.path.ismount(ws)
        out = w.results("a")[0]["result"]["output"]
        assert out == ".git\nREADME.md\ndata.bin\n40960\n1000\n", "no lost+found, all writable"
        assert os.stat(ws / "README.md").st_uid == 1000
    finally:
        for mount in tmp_path.rglob("*"):
            if mount.is_dir() and os.path.ismount(mount):
                subprocess.run(["umount", "-l", str(mount)], check=False)
