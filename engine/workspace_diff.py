"""An agent's changes as data for review: the changed files with their +/- counts and
the unified diff split per file, between its base and a checkpoint (or any two of its
checkpoints), and which changed files run on the user's machine when opened or built.

Everything here is read from the engine's own repository with the pinned host git
(sandboxes/workspaces/git.py); the diff text is the agent's, so it is data: the screen
shows it through `tui/safe_text.py`.  No Textual here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sandboxes.workspaces.git import run_git
from sandboxes.workspaces.repo import EngineRepo, base_ref, checkpoint_ref, kept_heads

DIFF_ARGS = ("diff", "--no-ext-diff", "--no-textconv", "--no-color", "--find-renames")

#: (pattern on the path, why it matters): files that act on the user's machine when the
#: repository is opened, built, tested or committed to, so a change deserves a close look
HOST_RUNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), why) for p, why in (
        (r"(^|/)\.envrc$", "direnv runs it when you enter the folder"),
        (r"(^|/)\.env(\..*)?$", "loaded into your environment by many tools"),
        (r"(^|/)\.vscode/", "your editor runs its tasks, launch and settings"),
        (r"(^|/)\.idea/", "your IDE runs its run configurations"),
        (r"(^|/)\.devcontainer/", "builds and runs a container with your files"),
        (r"(^|/)\.github/workflows/", "CI runs it with the repository's secrets"),
        (r"(^|/)\.gitlab-ci\.yml$|(^|/)\.circleci/|(^|/)Jenkinsfile$|(^|/)\.buildkite/",
         "CI runs it with the repository's secrets"),
        (r"(^|/)\.githooks/|(^|/)\.husky/|(^|/)\.git/hooks/|(^|/)lefthook\.ya?ml$"
         r"|(^|/)\.pre-commit-config\.yaml$", "git hooks run it at your next commit"),
        (r"(^|/)\.gitattributes$|(^|/)\.gitmodules$|(^|/)\.gitconfig$",
         "changes what your git runs (filters, submodules)"),
        (r"(^|/)package\.json$", "npm runs its scripts on install, build and test"),
        (r"(^|/)\.npmrc$|(^|/)\.yarnrc(\.yml)?$|(^|/)\.pnpmfile\.cjs$",
         "changes what npm/yarn run and fetch"),
        (r"(^|/)(GNU)?makefile$|\.mk$|(^|/)justfile$|(^|/)Rakefile$|(^|/)Taskfile\.ya?ml$",
         "make/just/rake run it when you build"),
        (r"(^|/)setup\.py$|(^|/)pyproject\.toml$|(^|/)setup\.cfg$|(^|/)conftest\.py$"
         r"|(^|/)noxfile\.py$|(^|/)tox\.ini$", "pip/pytest run it when you install or test"),
        (r"(^|/)build\.rs$|(^|/)\.cargo/config(\.toml)?$", "cargo runs it when you build"),
        (r"(^|/)build\.gradle(\.kts)?$|(^|/)gradlew$|(^|/)pom\.xml$|(^|/)CMakeLists\.txt$",
         "your build tool runs it"),
        (r"(^|/)Dockerfile$|(^|/)docker-compose\.ya?ml$|(^|/)compose\.ya?ml$",
         "docker runs it when you build or start it"),
    ))


@dataclass(frozen=True)
class FileChange:
    """One changed file and where its part of the patch is (line indexes)."""

    path: str
    old_path: str | None  # a rename's or copy's source
    added: int
    removed: int
    binary: bool
    status: str  # "added" | "deleted" | "modified" | "renamed"
    start: int
    end: int
    risk: str | None = None  # why it runs on your machine, or None
    executable: bool = False  # it became (or was added as) an executable file

    @property
    def name(self) -> str:
        return f"{self.old_path} → {self.path}" if self.old_path else self.path


@dataclass
class AgentDiff:
    since: str
    until: str
    lines: list[str] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def file_at(self, line: int) -> int | None:
        """The index of the file whose part of the patch holds ``line``."""
        for i, f in enumerate(self.files):
            if f.start <= line < f.end:
                return i
        return None

    def hunk_at(self, line: int) -> tuple[int, int] | None:
        """The (start, end) lines of the hunk holding ``line`` (its `@@` line first)."""
        index = self.file_at(line)
        if index is None:
            return None
        f = self.files[index]
        start = next((i for i in range(line, f.start - 1, -1) if self.lines[i].startswith("@@")), None)
        if start is None:
            return None
        end = next((i for i in range(start + 1, f.end) if self.lines[i].startswith("@@")), f.end)
        return start, end


@dataclass(frozen=True)
class CheckpointInfo:
    commit: str
    subject: str
    ts: int


def host_risk(path: str) -> str | None:
    for pattern, why in HOST_RUNS:
        if pattern.search(path):
            return why
    return None


def checkpoints(repo: EngineRepo, run_id: str, agent_id: str) -> list[CheckpointInfo]:
    """The agent's checkpoints, newest first, then its base (subject `base`)."""
    base = repo.ref(base_ref(run_id, agent_id))
    head = repo.ref(checkpoint_ref(run_id, agent_id))
    found: list[CheckpointInfo] = []
    if head and base:
        out = run_git(["log", "--first-parent", "--format=%H%x1f%ct%x1f%s", f"{base}..{head}"],
                      git_dir=repo.git_dir).stdout.decode("utf-8", "replace")
        for line in out.splitlines():
            commit, ts, subject = (line.split("\x1f") + ["", ""])[:3]
            found.append(CheckpointInfo(commit, subject, int(ts or 0)))
    listed = {c.commit for c in found}
    for kept in reversed(kept_heads(repo, run_id, agent_id) if base else []):
        if kept not in listed:  # from before a task's branch replaced its workspace
            line = run_git(["log", "-1", "--format=%ct%x1f%s", kept], git_dir=repo.git_dir)
            ts, subject = (line.stdout.decode("utf-8", "replace").strip().split("\x1f")
                           + ["", ""])[:2]
            found.append(CheckpointInfo(kept, f"kept from before a task: {subject}",
                                        int(ts or 0)))
    if base:
        found.append(CheckpointInfo(base, "base", 0))
    return found


def load_diff(repo: EngineRepo, since: str, until: str) -> AgentDiff:
    """The diff from ``since`` to ``until`` (commits of the engine's repository)."""
    numstat = run_git([*DIFF_ARGS, "--numstat", "-z", since, until], git_dir=repo.git_dir).stdout
    patch = run_git([*DIFF_ARGS, since, until], git_dir=repo.git_dir).stdout
    lines = patch.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    starts = [i for i, line in enumerate(lines) if line.startswith("diff --git ")]
    diff = AgentDiff(since, until, lines)
    for n, (stat, start) in enumerate(zip(_numstat(numstat), starts, strict=False)):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        added, removed, path, old = stat
        header = lines[start:_header_end(lines, start, end)]
        diff.files.append(FileChange(
            path, old, added, removed, added < 0, _status(header, old), start, end,
            host_risk(path) or (host_risk(old) if old else None),
            any(h in ("new file mode 100755", "new mode 100755") for h in header)))
    return diff


def _numstat(raw: bytes) -> list[tuple[int, int, str, str | None]]:
    parts = raw.decode("utf-8", "replace").split("\0")
    out: list[tuple[int, int, str, str | None]] = []
    i = 0
    while i < len(parts) and parts[i]:
        added, removed, path = parts[i].split("\t", 2)
        old: str | None = None
        if path == "":  # a rename: the old and new paths follow
            old, path = parts[i + 1], parts[i + 2]
            i += 2
        i += 1
        out.append((-1 if added == "-" else int(added), -1 if removed == "-" else int(removed),
                    path, old))
    return out


def _header_end(lines: list[str], start: int, end: int) -> int:
    for i in range(start + 1, end):
        if lines[i].startswith(("@@", "--- ", "Binary files", "GIT binary patch")):
            return i
    return end


def _status(header: list[str], old: str | None) -> str:
    if old is not None:
        return "renamed"
    if any(h.startswith("new file mode") for h in header):
        return "added"
    if any(h.startswith("deleted file mode") for h in header):
        return "deleted"
    return "modified"

