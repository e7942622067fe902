"""Every git command agentorch runs on the host goes through :func:`run_git`.

:class:`UserGit` is the one exception: the user's own git and configuration (their
identity) on their own repository, for `merge`; it too never runs in an agent's tree.

Host git never runs inside a tree an agent wrote: it works on the engine's own bare
repository (an explicit ``GIT_DIR``), on a fresh clone before its sandbox starts, or on
the user's repository for `merge`.  Its configuration is pinned so that nothing in a
repository can make it run code: no system or global config, hooks at /dev/null, no
fsmonitor, no external diff or textconv, no attributes file, submodules ignored.
"""

from __future__ import annotations

import atexit
import os
import pwd
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: identity of the commits the engine makes (checkpoints)
ENGINE_NAME = "agentorch"
ENGINE_EMAIL = "agentorch@localhost"

#: settings on every command line: command-line config outranks the repository's own
PINNED = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.attributesFile=/dev/null",
    "core.excludesFile=/dev/null",
    "core.askPass=",
    "core.sshCommand=false",
    "core.pager=cat",
    "diff.external=",
    "diff.noprefix=false",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "protocol.file.allow=always",
    "gc.auto=0",
    "maintenance.auto=false",
    "color.ui=false",
    "init.defaultBranch=main",
)


class GitError(Exception):
    """A git command failed; the message says which and why (one line)."""


@dataclass(frozen=True)
class Owner:
    """Whom a git command runs as (None: as ourselves)."""

    uid: int | None = None
    gid: int | None = None


_SAFE_CONFIG: list[str] = []


def _global_config() -> str:
    """/dev/null, except as root: then a file of ours saying only `safe.directory = *`
    (root reading a repository another user owns; git honours that setting only in the
    global config)."""
    if os.geteuid() != 0:
        return "/dev/null"
    if not _SAFE_CONFIG:
        fd, name = tempfile.mkstemp(prefix="agentorch-git-", suffix=".config")
        with os.fdopen(fd, "w") as f:
            f.write("[safe]\n\tdirectory = *\n")
        os.chmod(name, 0o644)
        atexit.register(os.unlink, name)
        _SAFE_CONFIG.append(name)
    return _SAFE_CONFIG[0]


def git_env(git_dir: Path | None = None, work_tree: Path | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C",
        "LC_ALL": "C",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": _global_config(),
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_AUTHOR_NAME": ENGINE_NAME,
        "GIT_AUTHOR_EMAIL": ENGINE_EMAIL,
        "GIT_COMMITTER_NAME": ENGINE_NAME,
        "GIT_COMMITTER_EMAIL": ENGINE_EMAIL,
    }
    if git_dir is not None:
        env["GIT_DIR"] = str(git_dir)
    if work_tree is not None:
        env["GIT_WORK_TREE"] = str(work_tree)
    return env


def run_git(args: Sequence[str], *, git_dir: Path | None = None, work_tree: Path | None = None,
            cwd: Path | None = None, input: bytes | None = None, owner: Owner | None = None,
            check: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``git ARGS`` with the pinned settings; stdout is bytes.  Raises GitError when
    ``check`` and git fails."""
    pinned = [item for setting in PINNED for item in ("-c", setting)]
    env = {**git_env(git_dir, work_tree), **(extra_env or {})}
    kwargs: dict = {}
    if owner is not None and owner.uid is not None:
        kwargs = {"user": owner.uid, "group": owner.gid, "extra_groups": []}
    try:
        done = subprocess.run(["git", *pinned, *args], input=input, capture_output=True,
                              env=env, cwd=cwd or "/", check=False, **kwargs)
    except FileNotFoundError:
        raise GitError("git is not installed on this machine; install git to use `repo:`") from None
    if check and done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {done.returncode}'}")
    return done


def git_text(args: Sequence[str], **kwargs) -> str:
    return run_git(args, **kwargs).stdout.decode("utf-8", "replace").strip()


def owner_of(path: Path) -> Owner:
    """Run as the owner of ``path`` when we are root and it is someone else's (so git
    never leaves root-owned files in a user's repository)."""
    if os.geteuid() != 0:
        return Owner()
    st = os.stat(path)
    return Owner() if st.st_uid == 0 else Owner(st.st_uid, st.st_gid)


class UserGit:
    """The user's own git on their repository (their config), as the repository's owner."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.owner: Owner = owner_of(repo)

    def run(self, args: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        if self.owner.uid is not None:  # root acting for the owner: their git, their home
            kwargs = {"user": self.owner.uid, "group": self.owner.gid, "extra_groups": []}
            try:
                env["HOME"] = pwd.getpwuid(self.owner.uid).pw_dir
            except KeyError:
                env["HOME"] = "/nonexistent"
            env.pop("XDG_CONFIG_HOME", None)
        done = subprocess.run(["git", *args], cwd=cwd or self.repo, capture_output=True,
                              text=True, env=env, check=False, **kwargs)
        if check and done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise GitError(f"git {args[0]} failed: {lines[-1] if lines else done.returncode}")
        return done

    def text(self, args: list[str], cwd: Path | None = None) -> str:
        return self.run(args, cwd).stdout.strip()

    def checked_out_at(self, branch: str) -> Path | None:
        """The worktree where ``branch`` is checked out, if any."""
        path: Path | None = None
        for line in self.text(["worktree", "list", "--porcelain"]).splitlines():
            if line.startswith("worktree "):
                path = Path(line[len("worktree "):])
            elif line == f"branch refs/heads/{branch}" and path is not None:
                return path
        return None
