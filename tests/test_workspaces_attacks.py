"""Attacks on host git from inside a clone: hooks, fsmonitor, hooksPath, external diff,
filters (in the clone and in a nested repository), symlinks to host files, hostile file
names.  No marker file may ever appear on the host and no host file content may enter
the engine's repository, through checkpoints, diff, merge or the end-of-run publish."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest
from docker_support import require_docker
from engine_support import make_team, run_to_end, step
from git_repos import make_repo, user_git

from engine.cli import main
from sandboxes.docker import TEST_IMAGE
from sandboxes.workspaces.git import run_git
from sandboxes.workspaces.repo import EngineRepo, checkpoint_ref

HOOKS = ("post-checkout post-commit pre-commit post-merge reference-transaction pre-auto-gc "
         "post-index-change fsmonitor-watchman")


def plant(marker: str) -> str:
    """A shell command (POSIX sh, busybox) planting every trap we know into the clone."""
    payload = f"#!/bin/sh\\necho ran >> {marker}\\n"
    config = "\\n".join([
        "[core]", "\tfsmonitor = $PWD/evil.sh", "\thooksPath = $PWD/.git/hooks",
        "\tpager = $PWD/evil.sh", "[diff]", "\texternal = $PWD/evil.sh",
        '[filter \\"x\\"]', "\tclean = $PWD/evil.sh", "\tsmudge = $PWD/evil.sh",
        "\tprocess = $PWD/evil.sh", '[diff \\"x\\"]', "\ttextconv = $PWD/evil.sh", ""])
    nested = "\\n".join(["[core]", "\trepositoryformatversion = 0", "\tbare = false",
                         f"\tfsmonitor = {marker}.sh", ""])
    return f"""set -e
mkdir -p .git/hooks nested/.git/hooks nested/.git/objects nested/.git/refs
for h in {HOOKS}; do
  printf '{payload}' > .git/hooks/$h; chmod +x .git/hooks/$h
  printf '{payload}' > nested/.git/hooks/$h; chmod +x nested/.git/hooks/$h
done
printf '{payload}' > evil.sh; chmod +x evil.sh
printf "{config}" >> .git/config
printf '{nested}' > nested/.git/config
printf 'ref: refs/heads/main\\n' > nested/.git/HEAD
printf '* filter=x diff=x\\n' > .gitattributes
mkdir -p .GiT/hooks sub/.GIT && printf '{payload}' > .GiT/hooks/post-checkout && echo x > sub/.GIT/config
printf 'changed\\n' > README.md
ln -s {marker}.secret leak
ln -s / root
ln -s ../../../../../../../etc/passwd up
printf 'q' > 'we"ird
name'
"""


def attack(tmp_path, backend: dict) -> None:
    marker = str(tmp_path / "host-marker")
    (tmp_path / "host-marker.secret").write_text("HOST SECRET 42\n")
    (tmp_path / "host-marker.sh").write_text(f"#!/bin/sh\necho ran >> {marker}\n")
    os.chmod(tmp_path / "host-marker.sh", 0o755)
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command=plant(marker)),
        step("write_file", path="after.txt", content="x"),
    ]}], repo="proj", **backend)

    async def go():
        engine, w, store = await run_to_end(team, tmp_path, timeout=90)
        await store.close()
        return engine.run_id, w

    run_id, w = asyncio.run(go())
    assert w.results("a")[0]["result"]["exit_code"] == 0, w.results("a")[0]
    db = ["--db", str(tmp_path / "state.db")]
    assert main(["diff", run_id, "a", *db]) == 0
    assert main(["diff", run_id, "a", "--stat", *db]) == 0
    assert main(["merge", run_id, "a", *db]) == 0
    assert not os.path.exists(marker), "host git ran code the agent planted"
    er = EngineRepo.for_project(tmp_path, repo)
    head = er.ref(checkpoint_ref(run_id, "a"))
    names = run_git(["ls-tree", "-r", "-z", "--name-only", head], git_dir=er.git_dir).stdout.split(b"\0")
    assert not any(part.lower() == b".git" for n in names for part in n.split(b"/")), \
        "a .git (in any case) entered a checkpoint"
    assert b'we"ird\nname' in names and b"after.txt" in names
    objects = run_git(["cat-file", "--batch-all-objects", "--batch"], git_dir=er.git_dir).stdout
    assert b"HOST SECRET 42" not in objects
    assert b"root:x:0:0" not in objects
    # the user's repository got the agent's files as data, and its tree matches
    assert (repo / "README.md").read_text() == "changed\n"
    assert os.path.islink(repo / "leak") and not os.path.exists(marker)
    assert user_git(repo, "status", "--porcelain") == ""
    assert not os.path.exists(marker)


def test_planted_git_traps_never_run_on_the_host_local(tmp_path):
    attack(tmp_path, {})
    # control: the traps are real: a plain git in the agent's clone does run them
    ws = next((tmp_path / ".agentorch" / "workspaces").iterdir()) / "a"
    subprocess.run(["git", "status"], cwd=ws, capture_output=True, check=False,
                   env={"PATH": os.environ["PATH"], "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/tmp"})
    assert os.path.exists(tmp_path / "host-marker"), "the planted fsmonitor should fire for a plain git"


@pytest.mark.docker
def test_planted_git_traps_never_run_on_the_host_docker(tmp_path):
    require_docker()
    attack(tmp_path, {"sandbox": {"backend": "docker", "image": TEST_IMAGE}})
