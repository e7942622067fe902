"""The engine's own bare repository per project, the user's repository as seen from it,
and the agents' clones.

Layout of the engine's repository (``.agentorch/git/<name>-<hash>.git``, beside the
database, never inside a workspace):

- ``refs/user/heads/<base>``: the user's base branch as last fetched (pure data);
- ``refs/agentorch/base/<run>/<agent>``: the commit an agent started from;
- ``refs/agentorch/checkpoints/<run>/<agent>``: its latest checkpoint (a chain of
  commits whose first parent is the base);
- ``refs/agentorch/before/<run>/<agent>/<task>``: its checkpoint from before a task's
  branch was cut into its workspace (kept so a rollback can bring it back);
- ``refs/heads/agentorch/<run>/<agent>``: the branch its clone was made from.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from sandboxes.workspaces.git import GitError, git_text, run_git

_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


def agent_branch(run_id: str, agent_id: str) -> str:
    return f"agentorch/{run_id}/{agent_id}"


def checkpoint_ref(run_id: str, agent_id: str) -> str:
    return f"refs/agentorch/checkpoints/{run_id}/{agent_id}"


def base_ref(run_id: str, agent_id: str) -> str:
    return f"refs/agentorch/base/{run_id}/{agent_id}"


def kept_ref(run_id: str, agent_id: str, task_id: str) -> str:
    """The agent's checkpoint from before task ``task_id``'s branch replaced its workspace."""
    return f"{kept_prefix(run_id, agent_id)}{task_id}"


def kept_prefix(run_id: str, agent_id: str) -> str:
    return f"refs/agentorch/before/{run_id}/{agent_id}/"


def kept_heads(repo: EngineRepo, run_id: str, agent_id: str) -> list[str]:
    """The agent's checkpoints kept from before its tasks' branches were cut (oldest first)."""
    out = repo.git(["for-each-ref", "--sort=committerdate", "--format=%(objectname)",
                    kept_prefix(run_id, agent_id)])
    return [c for c in out.split() if c]


# -- the user's repository -------------------------------------------------------------
def user_git_dir(repo: Path) -> Path:
    """The git directory of the user's repository ``repo``; GitError if it is none."""
    if not repo.is_dir():
        raise GitError(f"{repo} is not a directory; `repo:` must name a git repository")
    done = run_git(["rev-parse", "--absolute-git-dir"], cwd=repo, check=False)
    if done.returncode != 0:
        raise GitError(f"{repo} is not a git repository; run `git init` there or fix `repo:`")
    top = run_git(["rev-parse", "--show-toplevel"], cwd=repo, check=False)
    if top.returncode == 0 and Path(top.stdout.decode().strip()).resolve() != repo.resolve():
        raise GitError(f"{repo} is inside a git repository but not its top folder; "
                       "point `repo:` at the repository's top folder")
    return Path(done.stdout.decode().strip())


def current_branch(git_dir: Path) -> str:
    done = run_git(["symbolic-ref", "-q", "--short", "HEAD"], git_dir=git_dir, check=False)
    if done.returncode != 0:
        raise GitError("the repository has no branch checked out (detached HEAD); "
                       "set `base:` to the branch to start from")
    return done.stdout.decode().strip()


def branch_commit(git_dir: Path, branch: str) -> str | None:
    done = run_git(["rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}"],
                   git_dir=git_dir, check=False)
    return done.stdout.decode().strip() if done.returncode == 0 else None


def resolve_base(repo: Path, base: str | None) -> tuple[Path, str]:
    """The user's git dir and the base branch name; GitError in one sentence otherwise."""
    git_dir = user_git_dir(repo)
    branch = base or current_branch(git_dir)
    if not _BRANCH.match(branch) or branch_commit(git_dir, branch) is None:
        raise GitError(f"branch {branch!r} does not exist in {repo} (or has no commit yet); "
                       "commit something first or set `base:` to an existing branch")
    return git_dir, branch


def repo_problem(repo: Path, base: str | None) -> str | None:
    """For `check`: what is wrong with `repo:`/`base:`, or None."""
    try:
        resolve_base(repo, base)
    except GitError as exc:
        return str(exc)
    return None


# -- the engine's repository -------------------------------------------------------------
class EngineRepo:
    """The engine-owned bare repository of one project."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir

    @classmethod
    def for_project(cls, state_dir: Path, user_repo: Path) -> EngineRepo:
        real = str(user_repo.resolve())
        name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(real).name)[:40] or "repo"
        digest = hashlib.sha256(real.encode()).hexdigest()[:10]
        return cls(state_dir.resolve() / "git" / f"{name}-{digest}.git")

    def ensure(self) -> None:
        if (self.git_dir / "HEAD").exists():
            return
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        run_git(["init", "-q", "--bare", "--template=", str(self.git_dir)])

    def git(self, args: list[str], **kwargs) -> str:
        return git_text(args, git_dir=self.git_dir, **kwargs)

    def ref(self, ref: str) -> str | None:
        done = run_git(["rev-parse", "-q", "--verify", f"{ref}^{{commit}}"],
                       git_dir=self.git_dir, check=False)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def set_ref(self, ref: str, commit: str) -> None:
        self.git(["update-ref", ref, commit])

    def fetch_base(self, user_git_dir: Path, branch: str) -> str:
        """Copy the user's ``branch`` in (objects and one ref, pure data); its commit."""
        self.ensure()
        self.git(["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                  str(user_git_dir), f"+refs/heads/{branch}:refs/user/heads/{branch}"])
        commit = self.ref(f"refs/user/heads/{branch}")
        assert commit is not None
        return commit

    def clone_into(self, dest: Path, run_id: str, agent_id: str, base_commit: str,
                   uid: int | None, head: str | None = None) -> None:
        """A standalone clone of ``base_commit`` (or of ``head``, a later commit of the
        agent's, when its workspace is made again) in the empty folder ``dest`` on branch
        ``agentorch/<run>/<agent>``, with nothing of other agents (one branch, no tags,
        no remote left), given to ``uid`` when set."""
        branch = agent_branch(run_id, agent_id)
        self.set_ref(f"refs/heads/{branch}", head or base_commit)
        self.set_ref(base_ref(run_id, agent_id), base_commit)
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise GitError(f"workspace {dest} is not empty; with `repo:` each agent's workspace "
                           "starts as a fresh clone: empty it or change sandbox_path")
        run_git(["clone", "-q", "--no-local", "--no-tags", "--single-branch", "--template=",
                 "--branch", branch, str(self.git_dir), str(dest)])
        clone_dir = dest / ".git"
        run_git(["remote", "remove", "origin"], git_dir=clone_dir)
        if uid is not None:
            give_tree(dest, uid, uid)


def give_tree(top: Path, uid: int, gid: int) -> None:
    """chown a tree WE just created (before any sandbox saw it), descriptor-relative and
    without following a symlink."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
        for _root, dirs, files, dir_fd in os.fwalk(dir_fd=fd, follow_symlinks=False):
            for name in dirs + files:
                os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
    finally:
        os.close(fd)
