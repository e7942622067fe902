"""Bringing an agent's work into the user's repository.

The agent's latest checkpoint arrives by `git fetch` from the engine's repository (pure
data) as branch ``agentorch/<run>/<agent>``.  The merge result is computed without
touching any working tree (`git merge-tree --write-tree`, `git commit-tree`): a conflict
changes nothing.  Then the target branch moves: with `git merge --ff-only` in the
worktree where it is checked out (so that tree ends up matching; refused before
anything happens if it has uncommitted changes), else with a checked `update-ref`.
These steps run with the user's own git and configuration (their identity), as the
repository's owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sandboxes.workspaces.git import GitError, UserGit


@dataclass
class MergeResult:
    commit: str
    how: str  # "fast-forward" | "merge commit" | "squash" | "up to date"
    worktree: Path | None  # where the target branch is checked out (now matching)


class MergeConflict(GitError):
    def __init__(self, files: list[str]) -> None:
        self.files = files
        super().__init__("conflicts in: " + ", ".join(files))


#: how a merge may be made: `auto` fast-forwards when it can, else a merge commit
MERGE_MODES = ("auto", "ff", "merge", "squash")


def merge_agent(repo: Path, target: str, agent_ref: str, message: str,
                squash: bool = False, mode: str = "auto") -> MergeResult:
    """Merge ``agent_ref`` (already fetched into ``repo``) into branch ``target``
    (``mode`` one of MERGE_MODES; ``squash`` is mode `squash`)."""
    if squash:
        mode = "squash"
    squash = mode == "squash"
    git = UserGit(repo)
    old = git.run(["rev-parse", "-q", "--verify", f"refs/heads/{target}^{{commit}}"], check=False)
    if old.returncode != 0:
        raise GitError(f"branch {target!r} does not exist in {repo}; pass --into BRANCH")
    old_commit = old.stdout.strip()
    agent_commit = git.text(["rev-parse", f"{agent_ref}^{{commit}}"])
    worktree = git.checked_out_at(target)
    if worktree is not None:
        dirty = git.text(["status", "--porcelain", "--untracked-files=no"], cwd=worktree)
        if dirty:
            raise GitError(f"{worktree} has uncommitted changes on {target}; commit or stash "
                           "them, then merge again (nothing was changed)")
    ancestor = git.run(["merge-base", "--is-ancestor", agent_commit, old_commit], check=False)
    if ancestor.returncode == 0:
        return MergeResult(old_commit, "up to date", worktree)
    ff = git.run(["merge-base", "--is-ancestor", old_commit, agent_commit], check=False).returncode == 0
    if mode == "ff" and not ff:
        raise GitError(f"{target} has moved on since the agent started, so a fast-forward is "
                       "not possible; merge with a merge commit or squash (nothing was changed)")
    if ff and mode in ("auto", "ff"):
        new, how = agent_commit, "fast-forward"
    else:
        tree = _merged_tree(git, old_commit, agent_commit)
        parents = ["-p", old_commit] + ([] if squash else ["-p", agent_commit])
        new = git.text(["commit-tree", tree, *parents, "-m", message])
        how = "squash" if squash else "merge commit"
    if worktree is not None:
        git.run(["merge", "--ff-only", "--no-edit", "-q", new], cwd=worktree)
    else:
        git.run(["update-ref", "-m", message, f"refs/heads/{target}", new, old_commit])
    return MergeResult(new, how, worktree)


def _merged_tree(git: UserGit, ours: str, theirs: str) -> str:
    done = git.run(["merge-tree", "--write-tree", "--name-only", "--no-messages", ours, theirs],
                   check=False)
    lines = done.stdout.splitlines()
    if done.returncode == 1:
        raise MergeConflict(sorted(set(lines[1:])))
    if done.returncode != 0 or not lines:
        raise GitError(f"git merge-tree failed: {(done.stderr or '').strip() or done.returncode}")
    return lines[0]
