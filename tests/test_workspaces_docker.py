"""`repo:` with real Docker: the clone is made on the host before the container starts and
given to the sandbox user; checkpoints come through the daemon's archive API."""

from __future__ import annotations

import pytest
from docker_support import require_docker
from engine_support import make_team, run_to_end, step
from git_repos import make_repo, user_git

from sandboxes.docker import TEST_IMAGE
from sandboxes.workspaces.git import git_text
from sandboxes.workspaces.repo import EngineRepo, checkpoint_ref

pytestmark = pytest.mark.docker


async def test_an_agent_in_a_container_changes_its_clone_and_checkpoints_follow(tmp_path):
    require_docker()
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n", "tool.sh": "echo hi\n"})
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command="echo more >> README.md && chmod +x tool.sh && id -u"),
        step("write_file", path="docs/new.md", content="# new\n"),
        step("run_command", command="ln -s /etc/passwd pw && mkfifo fifo && ls -a"),
    ]}], sandbox={"backend": "docker", "image": TEST_IMAGE}, repo="proj")
    engine, w, store = await run_to_end(team, tmp_path, timeout=90)
    await store.close()
    first = w.results("a")[0]["result"]
    assert first["exit_code"] == 0, first
    assert ".git" in w.results("a")[2]["result"]["output"]
    cps = w.find("checkpoint", "a")
    assert [sorted(c.data["files"]) for c in cps] == [["README.md", "tool.sh"], ["docs/new.md"], ["pw"]]
    er = EngineRepo.for_project(tmp_path, repo)
    head = er.ref(checkpoint_ref(engine.run_id, "a"))
    show = lambda spec: git_text(["cat-file", "-p", spec], git_dir=er.git_dir)  # noqa: E731
    assert show(f"{head}:README.md") == "hello\nmore"
    assert show(f"{head}:pw") == "/etc/passwd", "a symlink is recorded as a link, not followed"
    tree = git_text(["ls-tree", head], git_dir=er.git_dir)
    assert "100755 blob" in next(line for line in tree.splitlines() if line.endswith("tool.sh"))
    assert user_git(repo, "status", "--porcelain") == ""


async def test_same_size_rewrites_in_the_same_second_are_each_a_checkpoint(tmp_path):
    require_docker()
    repo = make_repo(tmp_path / "proj", {"f.txt": "0000\n"})
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("write_file", path="f.txt", content=f"{i}{i}{i}{i}\n") for i in range(1, 5)
    ]}], sandbox={"backend": "docker", "image": TEST_IMAGE}, repo="proj")
    engine, w, store = await run_to_end(team, tmp_path, timeout=90)
    await store.close()
    cps = w.find("checkpoint", "a")
    assert len(cps) == 4
    er = EngineRepo.for_project(tmp_path, repo)
    assert git_text(["cat-file", "-p", f"{cps[-1].data['commit']}:f.txt"], git_dir=er.git_dir) == "4444"


def test_a_listing_with_a_strange_name_is_not_trusted():
    from sandboxes.workspaces.docker_snapshot import parse_listing

    line = "12 5 2026-11-30 09:02:08.35 +0000 2026-11-30 09:02:08.35 +0000 81a4 ./a b"
    assert parse_listing(line + "\n") == {b"a b": (12, 5, "2026-11-30 09:02:08.35",
                                                   "2026-11-30 09:02:08.35", 0o100644)}
    assert parse_listing(line + "\nsecond line of a name\n") is None
    assert parse_listing(line.replace("a b", "\ufffd") + "\n") is None
