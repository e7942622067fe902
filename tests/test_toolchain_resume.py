"""Resume after kill -9 keeps each agent's branch and base without looking the base
branch up again: it goes on even when that branch was deleted meanwhile (real
processes, real git, real SQLite)."""

from __future__ import annotations

from crash_support import HeadlessRun
from git_repos import make_repo, user_git

from sandboxes.workspaces.repo import EngineRepo, agent_branch, base_ref

TEAM = """\
name: resumable
repo: proj
base: feature
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


def test_resume_goes_on_after_the_base_branch_was_deleted(tmp_path):
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n"}, branch="feature")
    (tmp_path / "team.yaml").write_text(TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    started = run.until(lambda e: e["type"] == "run_started")
    run.until(lambda e: e["type"] == "checkpoint")
    run.until(lambda e: e["type"] == "console" and e.get("kind") == "output")
    run.kill9()
    run_id = started["run_id"]
    base = EngineRepo.for_project(tmp_path, repo).ref(base_ref(run_id, "a"))
    user_git(repo, "checkout", "-q", "-b", "other")
    user_git(repo, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    user_git(repo, "branch", "-D", "feature")
    resumed = HeadlessRun(["--resume", run_id, "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish() == 0, resumed.proc.stderr.read()
    assert EngineRepo.for_project(tmp_path, repo).ref(base_ref(run_id, "a")) == base
    assert user_git(repo, "show", f"{agent_branch(run_id, 'a')}:three.txt") == "3"
    assert user_git(repo, "merge-base", "--is-ancestor", base, agent_branch(run_id, "a")) == ""
