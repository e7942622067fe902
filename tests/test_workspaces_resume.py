"""kill -9 in the middle of a run with `repo:`, then resume: the clone, its checkpoints
and its branch carry on (real processes, real git, real SQLite)."""

from __future__ import annotations

from crash_support import HeadlessRun
from git_repos import make_repo, user_git

from sandboxes.workspaces.git import git_text
from sandboxes.workspaces.repo import EngineRepo, agent_branch, checkpoint_ref

TEAM = """\
name: resumable
repo: proj
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: a
    script:
      - {tool: write_file, args: {path: one.txt, content: "1"}}
      - {tool: run_command, args: {command: "echo waiting; sleep 2; echo two > two.txt"}}
      - {tool: write_file, args: {path: three.txt, content: "3"}}
      - {tool: finish, args: {summary: done}}
"""


def test_kill9_then_resume_keeps_the_clone_and_the_checkpoint_chain(tmp_path):
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    (tmp_path / "team.yaml").write_text(TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    started = run.until(lambda e: e["type"] == "run_started")
    first = run.until(lambda e: e["type"] == "checkpoint")
    run.until(lambda e: e["type"] == "console" and e.get("kind") == "output")
    run.kill9()
    run_id = started["run_id"]
    resumed = HeadlessRun(["--resume", run_id, "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish() == 0
    er = EngineRepo.for_project(tmp_path, repo)
    head = er.ref(checkpoint_ref(run_id, "a"))
    assert git_text(["merge-base", "--is-ancestor", first["commit"], head], git_dir=er.git_dir,
                    check=True) == ""
    files = git_text(["ls-tree", "--name-only", head], git_dir=er.git_dir).split()
    assert {"one.txt", "three.txt", "README.md"} <= set(files)
    ws = tmp_path / ".agentorch" / "workspaces" / run_id / "a"
    assert (ws / "one.txt").read_text() == "1" and (ws / "three.txt").read_text() == "3"
    assert user_git(ws, "rev-parse", "--abbrev-ref", "HEAD") == agent_branch(run_id, "a")
    assert user_git(repo, "show", f"{agent_branch(run_id, 'a')}:three.txt") == "3"


def test_a_clone_deleted_before_the_resume_comes_back_as_its_latest_checkpoint(tmp_path):
    import shutil

    make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    (tmp_path / "team.yaml").write_text(TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run_id = run.until(lambda e: e["type"] == "run_started")["run_id"]
    run.until(lambda e: e["type"] == "checkpoint")
    run.until(lambda e: e["type"] == "console" and e.get("kind") == "output")
    run.kill9()
    ws = tmp_path / ".agentorch" / "workspaces" / run_id / "a"
    shutil.rmtree(ws)
    resumed = HeadlessRun(["--resume", run_id, "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish() == 0
    assert (ws / "one.txt").read_text() == "1", "the checkpoint's file is back"
    assert user_git(ws, "rev-parse", "--abbrev-ref", "HEAD") == agent_branch(run_id, "a")
    assert any(e["type"] == "notice" and "was made again from its latest checkpoint" in e["text"]
               for e in resumed.events)
