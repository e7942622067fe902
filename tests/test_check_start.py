"""`agentorch-tui check` says what a start would refuse, before anything starts: the
refusals of a Docker daemon on another machine (judged from DOCKER_HOST and
`sandbox.remote`, without contacting it) and a clone of `repo:` over an agent's limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from git_repos import make_repo, user_git

from engine.cli import cmd_check

AGENTS = """\
agents:
  - id: a
    model: scripted
    script: []
    network: {allow: [pypi.org]}
  - id: b
    brain: claude-code
    model: claude-sonnet-4-5
  - id: c
    backend: local
    model: scripted
    script: []
    network: {allow: [pypi.org]}
"""


def check(tmp_path, capsys, body: str) -> tuple[int, str]:
    (tmp_path / "team.yaml").write_text(body)
    code = cmd_check(str(tmp_path / "team.yaml"), str(tmp_path / "state.db"))
    return code, capsys.readouterr().out


def test_network_rules_and_cli_agents_on_a_remote_daemon_fail_the_check(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")  # never contacted
    code, out = check(tmp_path, capsys, "sandbox: {backend: docker}\n" + AGENTS)
    assert code == 2
    assert (f"{tmp_path}/team.yaml:6: agents[0].network: agent a's network rules "
            "(`network: {allow, deny}`) need the Docker daemon on this machine, and the Docker "
            "daemon at tcp://10.0.0.5:2376 is not") in out
    assert (f"{tmp_path}/team.yaml:8: agents[1].brain: agent b (brain: claude-code) needs its "
            "settings and model socket bound into its container") in out
    assert "agent c" not in out, "a local agent needs no daemon"
    assert "Traceback" not in out


def test_sandbox_remote_true_fails_the_check_without_docker_host(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    code, out = check(tmp_path, capsys, "sandbox: {remote: true}\n" + AGENTS)
    assert code == 2
    assert "agent a's network rules" in out and "a remote Docker daemon (sandbox.remote: true)" in out
    assert "agent b (brain: claude-code)" in out


def test_a_local_daemon_or_remote_false_checks_clean(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@box")
    code, out = check(tmp_path, capsys, "sandbox: {remote: false}\n" + AGENTS)
    assert code == 0, out
    monkeypatch.delenv("DOCKER_HOST")
    code, out = check(tmp_path, capsys, AGENTS)
    assert code == 0, out


def test_a_clone_over_an_agents_limit_fails_the_check(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    (repo / "data.bin").write_bytes(os.urandom(300 * 1024))
    user_git(repo, "add", "-A")
    user_git(repo, "commit", "-q", "-m", "data")
    team = ("repo: proj\nagents:\n  - id: a\n    model: scripted\n    script: []\n"
            "    resources: {disk: 100k}\n")
    code, out = check(tmp_path, capsys, team)
    assert code == 2
    assert out.startswith(f"{tmp_path}/team.yaml:1: repo: the clone of {repo} (main) would take "
                          "about ")
    assert "over a's `resources.disk` of 100.0 KiB; raise that limit" in out
    code, out = check(tmp_path, capsys, team.replace("100k", "10m"))
    assert code == 0, out


def test_the_check_command_exits_non_zero(tmp_path, monkeypatch):
    """Through the installed command, as a person runs it."""
    (tmp_path / "team.yaml").write_text("sandbox: {remote: true}\n" + AGENTS)
    env = {**os.environ, "DOCKER_HOST": "https://docker.example.com",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-m", "tui", "check", "team.yaml", "--db", "state.db"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "agent a's network rules" in done.stdout + done.stderr
