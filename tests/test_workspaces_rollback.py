"""`rollback RUN AGENT CHECKPOINT`: the workspace comes back byte for byte (deleted,
binary, executable files, symlinks), written through the sandbox, and the rollback is
itself a checkpoint that can be rolled back (real git, local and Docker)."""

from __future__ import annotations

import asyncio

import pytest
from docker_support import require_docker
from engine_support import make_team, run_to_end, step
from git_repos import make_repo

from engine.cli import main
from sandboxes.docker import TEST_IMAGE
from sandboxes.workspaces.git import git_text
from sandboxes.workspaces.repo import EngineRepo, checkpoint_ref

FIRST = ("printf 'bin\\000\\377\\001' > data.bin && printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh"
         " && ln -s data.bin link && mkdir -p deep/er && echo d > deep/er/f.txt")
SECOND = ("rm -rf README.md data.bin deep && echo changed > run.sh && chmod -x run.sh"
          " && rm link && ln -s elsewhere link && mkdir data.bin && echo x > data.bin/inner"
          " && echo later > later.txt")


def run(tmp_path, backend: dict):
    make_repo(tmp_path / "proj", {"README.md": "hello\n", "keep.txt": "keep\n"})
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command=FIRST), step("run_command", command=SECOND)]}],
        repo="proj", **backend)

    async def go():
        engine, w, store = await run_to_end(team, tmp_path, timeout=90)
        await store.close()
        return engine.run_id, w

    run_id, w = asyncio.run(go())
    return team, run_id, [c.data["commit"] for c in w.find("checkpoint", "a")]


def tree(er: EngineRepo, commit: str) -> str:
    return git_text(["ls-tree", "-r", "--full-tree", commit], git_dir=er.git_dir)


def check_rollback(tmp_path, backend: dict, capsys) -> None:
    team, run_id, (first, second) = run(tmp_path, backend)
    er = EngineRepo.for_project(tmp_path, tmp_path / "proj")
    db = ["--db", str(tmp_path / "state.db")]
    assert main(["rollback", run_id, "a", first[:10], *db]) == 0, capsys.readouterr()
    assert "is back at" in capsys.readouterr().out
    head = er.ref(checkpoint_ref(run_id, "a"))
    assert head != second and tree(er, head) == tree(er, first)
    ws = team.workspace_of(team.agent("a"), run_id)
    assert (ws / "data.bin").read_bytes() == b"bin\x00\xff\x01"
    assert (ws / "README.md").read_text() == "hello\n"
    assert (ws / "run.sh").stat().st_mode & 0o111 and (ws / "run.sh").read_text() == "#!/bin/sh\n"
    assert (ws / "link").is_symlink() and str((ws / "link").readlink()) == "data.bin"
    assert (ws / "deep/er/f.txt").read_text() == "d\n" and not (ws / "later.txt").exists()
    assert (ws / ".git").is_dir()
    # undo: back to where the agent had got to
    assert main(["rollback", run_id, "a", second, *db]) == 0
    assert tree(er, er.ref(checkpoint_ref(run_id, "a"))) == tree(er, second)
    assert (ws / "data.bin/inner").read_text() == "x\n" and not (ws / "README.md").exists()
    # and to the start
    assert main(["rollback", run_id, "a", "base", *db]) == 0
    assert sorted(p.name for p in ws.iterdir()) == [".git", "README.md", "keep.txt"]
    # not a checkpoint of this agent: one sentence
    assert main(["rollback", run_id, "a", "deadbeef", *db]) == 1
    assert "is not a checkpoint of a" in capsys.readouterr().err


def test_rollback_restores_bytes_exactly_local(tmp_path, capsys):
    check_rollback(tmp_path, {}, capsys)


@pytest.mark.docker
def test_rollback_restores_bytes_exactly_docker(tmp_path, capsys):
    require_docker()
    check_rollback(tmp_path, {"sandbox": {"backend": "docker", "image": TEST_IMAGE}}, capsys)


async def test_headless_rollback_of_an_agent_that_is_done_while_the_run_goes_on(tmp_path):
    from engine_support import start

    from engine.recording import ControlError

    make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    team = make_team(tmp_path, [
        {"id": "a", "script": [step("write_file", path="one.txt", content="1"),
                               step("run_command", command="rm README.md && echo 2 > one.txt"),
                               step("finish", summary="done")]},
        {"id": "b", "script": [step("wait_for_message", timeout=60)]}], repo="proj")
    engine, w, store = await start(team, tmp_path)
    try:
        with pytest.raises(ControlError, match="b is at work"):
            await engine.handle_command({"type": "rollback", "agent": "b", "checkpoint": "base"})
        await w.wait_for("agent_status", "a", status="done")
        first = w.find("checkpoint", "a")[0].data["commit"]
        with pytest.raises(ControlError, match="is not a checkpoint of a"):
            await engine.handle_command({"type": "rollback", "agent": "a", "checkpoint": "feed"})
        await engine.handle_command({"type": "rollback", "agent": "a", "checkpoint": first[:8]})
        back = await w.wait_for("checkpoint", "a", rollback_to=first)
        ws = team.workspace_of(team.agent("a"), engine.run_id)
        assert (ws / "one.txt").read_text() == "1" and (ws / "README.md").read_text() == "hello\n"
        er = EngineRepo.for_project(tmp_path, tmp_path / "proj")
        assert tree(er, back.data["commit"]) == tree(er, first)
    finally:
        await engine.stop()
        await store.close()
