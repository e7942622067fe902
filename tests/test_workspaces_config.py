"""`repo:` and `base:` in agents.yaml: validated by `check` against a real repository."""

from __future__ import annotations

from pathlib import Path

from git_repos import make_repo, user_git

from engine.cli import main

TEAM = """name: t
repo: {repo}
{base}agents:
  - id: a
    script: [{{tool: finish, args: {{summary: ok}}}}]
"""


def write_team(tmp_path: Path, repo: str, base: str | None = None) -> Path:
    f = tmp_path / "team" / "agents.yaml"
    f.parent.mkdir(exist_ok=True)
    f.write_text(TEAM.format(repo=repo, base=f"base: {base}\n" if base else ""))
    return f


def test_check_accepts_a_repository_and_its_branch(tmp_path, capsys):
    make_repo(tmp_path / "team" / "proj")
    user_git(tmp_path / "team" / "proj", "branch", "dev")
    f = write_team(tmp_path, "proj", "dev")
    assert main(["check", str(f), "--db", str(tmp_path / "db")]) == 0


def test_check_refuses_a_folder_that_is_no_repository(tmp_path, capsys):
    (tmp_path / "team" / "plain").mkdir(parents=True)
    f = write_team(tmp_path, "plain")
    assert main(["check", str(f), "--db", str(tmp_path / "db")]) != 0
    out = capsys.readouterr().out
    assert "repo" in out and "is not a git repository" in out and "Traceback" not in out


def test_check_refuses_a_missing_base_branch(tmp_path, capsys):
    make_repo(tmp_path / "team" / "proj")
    f = write_team(tmp_path, "proj", "nosuch")
    assert main(["check", str(f), "--db", str(tmp_path / "db")]) != 0
    out = capsys.readouterr().out
    assert "base" in out and "'nosuch' does not exist" in out


def test_repo_and_base_are_in_the_schema(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert '"repo"' in out and '"base"' in out
