"""The `--demo` team's project: a small throwaway git repository made offline in the demo
run's own folder, so the diff screen (`v`), a merge and a rollback can be tried without
touching any repository of yours.  The demo team file names it with `repo: repo`."""

from __future__ import annotations

from pathlib import Path

from engine.loader import load_team
from sandboxes.workspaces.git import run_git

#: the folder (relative to the demo run's base folder) the demo team's `repo:` names
DEMO_REPO = "repo"

FILES = {
    "README.md": "# greet\n\nA tiny shell tool that greets people by name. The agentorch demo team\n"
                 "writes it on its own branches; review their work with `v`, merge it with `M`.\n",
    ".gitignore": "*.tmp\n",
}


def make_demo_repo(base_dir: Path) -> Path:
    """The demo's repository in ``base_dir`` (made once: a resumed demo keeps its own)."""
    repo = base_dir / DEMO_REPO
    if (repo / ".git").is_dir():
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    run_git(["init", "-q", str(repo)])
    for name, text in FILES.items():
        (repo / name).write_text(text)
    git_dir, tree = repo / ".git", repo
    run_git(["add", "-A"], git_dir=git_dir, work_tree=tree, cwd=tree)
    run_git(["commit", "-q", "-m", "The demo project: a README"], git_dir=git_dir,
            work_tree=tree, cwd=tree)
    return repo


def load_demo_team(path: Path, base_dir: Path, **kwargs):
    """The demo team with its repository made first in ``base_dir``."""
    make_demo_repo(base_dir)
    return load_team(path, base_dir=base_dir, **kwargs)
