"""Real git repositories for the workspace tests (the user's git, plain subprocess)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

USER_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Person", "GIT_AUTHOR_EMAIL": "person@example.com",
    "GIT_COMMITTER_NAME": "Person", "GIT_COMMITTER_EMAIL": "person@example.com",
}


def user_git(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, **USER_ENV}
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {args} failed: {done.stderr}")
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A repository with one commit of ``files`` on ``branch``."""
    path.mkdir(parents=True, exist_ok=True)
    user_git(path, "init", "-q", "-b", branch)
    for name, text in (files or {"README.md": "hello\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    user_git(path, "add", "-A")
    user_git(path, "commit", "-q", "-m", "start")
    return path
