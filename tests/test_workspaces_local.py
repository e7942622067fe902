"""`repo:` on the local backend: a clone per agent, checkpoints after each change, the
agent's branch published to the user's repository (real git, real SQLite)."""

from __future__ import annotations

from engine_support import make_team, run_to_end, step
from git_repos import make_repo, user_git

from sandboxes.workspaces.git import git_text
from sandboxes.workspaces.repo import EngineRepo, agent_branch, checkpoint_ref


def engine_repo(tmp_path, repo) -> EngineRepo:
    return EngineRepo.for_project(tmp_path, repo)


async def test_each_change_is_a_checkpoint_and_the_branch_is_published(tmp_path):
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n", "src/app.py": "x = 1\n"})
    team = make_team(tmp_path, [
        {"id": "a", "script": [
            step("write_file", path="src/app.py", content="x = 2\n"),
            step("run_command", command="printf 'new\\n' > notes.txt && rm README.md"),
            step("run_command", command="git status --short >/dev/null 2>&1; true"),
            step("finish", summary="done")]},
        {"id": "b", "script": [step("run_command", command="ls")]},
    ], repo="proj")
    engine, w, store = await run_to_end(team, tmp_path)
    await store.close()
    cps = w.find("checkpoint", "a")
    assert [c.data["call_id"] for c in cps][:2] == [r["call_id"] for r in w.results("a")[:2]]
    assert cps[0].data["files"] == ["src/app.py"]
    assert sorted(cps[1].data["files"]) == ["README.md", "notes.txt"]
    assert len(cps) == 2, "a command that changed nothing makes no checkpoint"
    # each checkpoint follows its tool result
    seqs = {e.data.get("call_id"): e.seq for e in w.events if e.type == "tool_result"}
    assert all(c.seq > seqs[c.data["call_id"]] for c in cps)
    er = engine_repo(tmp_path, repo)
    head = er.ref(checkpoint_ref(engine.run_id, "a"))
    assert head == cps[-1].data["commit"]
    names = git_text(["diff", "--name-status", "refs/user/heads/main", head], git_dir=er.git_dir)
    assert sorted(names.splitlines()) == ["A\tnotes.txt", "D\tREADME.md", "M\tsrc/app.py"]
    # the user's tree is untouched, and the agent's branch is there to look at
    assert (repo / "README.md").read_text() == "hello\n"
    assert user_git(repo, "status", "--porcelain") == ""
    branch = agent_branch(engine.run_id, "a")
    assert user_git(repo, "show", f"{branch}:src/app.py") == "x = 2"
    assert not user_git(repo, "for-each-ref", "refs/agentorch"), "checkpoint refs stay private"
    # b works in its own clone on its own branch (LOCAL does not isolate: `ls ../a` would
    # show a's files whenever a had written them, so only b's own folder is listed)
    b_out = w.results("b")[0]["result"]["output"]
    assert "README.md" in b_out and "notes.txt" not in b_out
    ws_b = team.workspace_of(team.agent("b"), engine.run_id)
    assert user_git(ws_b, "rev-parse", "--abbrev-ref", "HEAD") == agent_branch(engine.run_id, "b")
    assert user_git(ws_b, "branch", "-a").split() == ["*", agent_branch(engine.run_id, "b")]


async def test_ignore_rules_come_from_the_base_and_big_files_are_skipped(tmp_path):
    make_repo(tmp_path / "proj", {".gitignore": "build/\n*.log\n", "a.txt": "a\n"})
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command=(
            "mkdir -p build && echo x > build/out && echo y > run.log && echo '*.txt' > .gitignore"
            " && echo keep > b.txt && dd if=/dev/zero of=big.bin bs=1M count=9 2>/dev/null")),
    ]}], repo="proj")
    engine, w, store = await run_to_end(team, tmp_path)
    await store.close()
    cp = w.find("checkpoint", "a")[0].data
    assert sorted(cp["files"]) == [".gitignore", "b.txt"]
    assert cp["skipped"] == ["big.bin"]


async def test_a_repo_that_is_no_repository_stops_the_run_in_one_sentence(tmp_path):
    (tmp_path / "plain").mkdir()
    team = make_team(tmp_path, [{"id": "a", "script": []}], repo="plain")
    import pytest

    from sandboxes.base import SandboxError

    with pytest.raises(SandboxError, match="is not a git repository"):
        await run_to_end(team, tmp_path)


async def test_two_agents_changing_the_same_file_get_one_notice(tmp_path):
    make_repo(tmp_path / "proj", {"src/app.py": "x = 1\n", "other.py": "y\n"})
    team = make_team(tmp_path, [
        {"id": "a", "script": [step("write_file", path="src/app.py", content="x = 2\n"),
                               step("write_file", path="a_only.py", content="a\n"),
                               step("write_file", path="src/app.py", content="x = 3\n")]},
        {"id": "b", "script": [step("write_file", path="src/app.py", content="x = 4\n"),
                               step("write_file", path="b_only.py", content="b\n")]},
    ], repo="proj")
    engine, w, store = await run_to_end(team, tmp_path)
    await store.close()
    overlaps = [e for e in w.events if e.type == "notice" and e.data.get("overlap")]
    assert len(overlaps) == 1, [e.data for e in overlaps]
    assert overlaps[0].data["overlap"] == ["a", "b"] and overlaps[0].data["files"] == ["src/app.py"]
    assert "a and b both changed src/app.py" in overlaps[0].data["text"]
