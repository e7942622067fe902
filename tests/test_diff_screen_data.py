"""The data behind the diff screen, on real git: files and counts (renames, binary,
executable), the files that run on the user's machine, the checkpoint list, merge modes
(ff only, merge commit) and headless `discard`."""

from __future__ import annotations

import asyncio

import pytest
from engine_support import make_team, run_to_end, start, step
from git_repos import make_repo, user_git

from engine.cli import main
from engine.recording import ControlError
from engine.workspace_diff import checkpoints, host_risk, load_diff
from engine.workspace_review import has_unmerged
from sandboxes.workspaces.repo import checkpoint_ref


@pytest.mark.parametrize("path", [
    ".envrc", "sub/.envrc", ".vscode/tasks.json", ".github/workflows/ci.yml", "Makefile",
    "makefile", "web/package.json", ".husky/pre-commit", ".pre-commit-config.yaml",
    "conftest.py", "pyproject.toml", "build.rs", ".gitattributes", "rules.mk", "Dockerfile"])
def test_files_that_run_on_the_host_are_flagged(path: str) -> None:
    assert host_risk(path)


@pytest.mark.parametrize("path", ["src/app.py", "README.md", "docs/Makefile.md", "envrc.txt",
                                  "package.json.bak", "vscode/x"])
def test_ordinary_files_are_not(path: str) -> None:
    assert host_risk(path) is None


def finished(tmp_path, script, agents=("a",)):
    make_repo(tmp_path / "proj", {"README.md": "hello\n", "old.txt": "a\nb\nc\nd\ne\nf\n",
                                  "src/app.py": "x = 1\n"})
    team = make_team(tmp_path, [{"id": a, "script": script} for a in agents], repo="proj")

    async def go():
        engine, _w, store = await run_to_end(team, tmp_path)
        await store.close()
        return engine

    return asyncio.run(go())


def test_renames_binary_executable_and_the_checkpoint_list(tmp_path) -> None:
    engine = finished(tmp_path, [
        step("run_command", command="mv old.txt new.txt"),
        step("run_command", command="printf 'a\\0b' > blob.bin; printf '#!/bin/sh\\n' > run.sh; "
                                    "chmod +x run.sh"),
        step("write_file", path="src/app.py", content="x = 2\n")])
    repo, run_id = engine.workspaces.repo, engine.run_id
    found = checkpoints(repo, run_id, "a")
    assert [c.subject for c in found][-1] == "base" and len(found) == 4
    diff = load_diff(repo, found[-1].commit, found[0].commit)
    files = {f.path: f for f in diff.files}
    assert files["new.txt"].status == "renamed" and files["new.txt"].old_path == "old.txt"
    assert files["blob.bin"].binary and files["run.sh"].executable and files["run.sh"].status == "added"
    assert (files["src/app.py"].added, files["src/app.py"].removed) == (1, 1)
    assert diff.lines[files["src/app.py"].start].startswith("diff --git a/src/app.py")
    hunk = diff.hunk_at(diff.lines.index("+x = 2"))
    assert hunk is not None and diff.lines[hunk[0]].startswith("@@")


def cli(tmp_path, *args: str) -> int:
    return main([*args, "--db", str(tmp_path / "state.db")])


def test_ff_only_is_refused_when_the_base_moved_and_merge_commit_always_commits(tmp_path, capsys):
    engine = finished(tmp_path, [step("write_file", path="n.txt", content="n\n")])
    repo = tmp_path / "proj"
    user_git(repo, "commit", "-q", "--allow-empty", "-m", "moved on")
    before = user_git(repo, "rev-parse", "HEAD")
    assert cli(tmp_path, "merge", engine.run_id, "a", "--how", "ff") == 1
    assert "fast-forward is not possible" in capsys.readouterr().err
    assert user_git(repo, "rev-parse", "HEAD") == before
    assert has_unmerged(engine.workspaces.repo, engine.run_id, "a")
    user_git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert cli(tmp_path, "merge", engine.run_id, "a", "--how", "merge") == 0
    assert "merge commit" in capsys.readouterr().out  # not a fast-forward, though one was possible
    assert len(user_git(repo, "log", "-1", "--format=%P").split()) == 2
    assert not has_unmerged(engine.workspaces.repo, engine.run_id, "a")


async def test_headless_discard_and_merge_modes(tmp_path) -> None:
    make_repo(tmp_path / "proj")
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("write_file", path="x.txt", content="x\n"), step("wait_for_message", timeout=30),
        step("finish", summary="ok")]}], repo="proj")
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for("checkpoint", "a")
        with pytest.raises(ControlError, match="unknown merge mode"):
            await engine.handle_command({"type": "merge", "agent": "a", "how": "rebase"})
        text = await engine.handle_command({"type": "discard", "agent": "a"})
        assert text.startswith("discarded a's work")
        repo = engine.workspaces.repo
        assert not has_unmerged(repo, engine.run_id, "a")
        assert repo.ref(checkpoint_ref(engine.run_id, "a"))  # still there
        text = await engine.handle_command({"type": "merge", "agent": "a", "how": "squash"})
        assert "(squash)" in text and (tmp_path / "proj" / "x.txt").exists()
        await engine.send_user_message("a", "go on")
        await asyncio.wait_for(engine.wait(), 30)
    finally:
        await store.close()
