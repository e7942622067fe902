"""Checkpoints: a workspace snapshot (data from sandboxes/workspaces/snapshot.py) becomes
a commit on ``refs/agentorch/checkpoints/<run>/<agent>`` in the engine's repository,
written with ``git fast-import``; host git never looks at the agent's tree.

Only what changed costs: blobs already known (by content hash) are referenced, not
written again, and on the local backend files whose stat signature did not change are
not even read.  Ignore rules are the base commit's `.gitignore` files (never the
agent's); a path the base tracks is never ignored.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sandboxes.workspaces.git import ENGINE_EMAIL, ENGINE_NAME, run_git
from sandboxes.workspaces.repo import EngineRepo, base_ref, checkpoint_ref
from sandboxes.workspaces.snapshot import Entry

Tree = dict[bytes, tuple[str, str]]  # path -> (mode, blob sha)


@dataclass
class Checkpoint:
    commit: str
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's id


def read_tree(repo: EngineRepo, commit: str) -> Tree:
    out = run_git(["ls-tree", "-r", "-z", "--full-tree", commit], git_dir=repo.git_dir).stdout
    tree: Tree = {}
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, _, path = item.partition(b"\t")
        mode, _kind, sha = meta.decode().split(" ")
        tree[path] = (mode, sha)
    return tree


class IgnoreRules:
    """The base commit's ignore rules, asked through `git check-ignore --no-index` on an
    engine-owned folder that holds only the base's `.gitignore` files."""

    def __init__(self, repo: EngineRepo, base: str, base_tree: Tree) -> None:
        self.repo = repo
        self._decided: dict[bytes, bool] = {}
        self._dir: Path | None = None
        files = [p for p in base_tree if p == b".gitignore" or p.endswith(b"/.gitignore")]
        if files:
            self._dir = Path(tempfile.mkdtemp(prefix="ignore-", dir=repo.git_dir))
            for path in files:
                mode, sha = base_tree[path]
                if mode not in ("100644", "100755"):
                    continue
                target = self._dir / path.decode("utf-8", "surrogateescape")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(run_git(["cat-file", "blob", sha], git_dir=repo.git_dir).stdout)

    def ignored(self, paths: Iterable[bytes]) -> set[bytes]:
        if self._dir is None:
            return set()
        unknown = [p for p in paths if p not in self._decided and b"\n" not in p]
        if unknown:
            for p in unknown:
                self._decided[p] = False
            done = run_git(["check-ignore", "--no-index", "--stdin", "-z"], git_dir=self.repo.git_dir,
                           work_tree=self._dir, input=b"\0".join(unknown) + b"\0", check=False)
            for p in done.stdout.split(b"\0"):
                if p:
                    self._decided[p] = True
        return {p for p in paths if self._decided.get(p)}

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


class Checkpointer:
    """Turns snapshots of one agent's workspace into a chain of checkpoint commits."""

    def __init__(self, repo: EngineRepo, run_id: str, agent_id: str) -> None:
        self.repo = repo
        self.ref = checkpoint_ref(run_id, agent_id)
        base = repo.ref(base_ref(run_id, agent_id))
        if base is None:
            raise ValueError(f"no base commit recorded for {agent_id} in run {run_id}")
        self.base = base
        self.parent = repo.ref(self.ref) or base
        base_tree = read_tree(repo, base)
        self._base_tree = base_tree
        self._base_paths = set(base_tree)
        self.tree = read_tree(repo, self.parent) if self.parent != base else base_tree
        self._known_blobs = {sha for _, sha in base_tree.values()} | {sha for _, sha in self.tree.values()}
        self._signatures: dict[bytes, tuple] = {}
        self._ignore = IgnoreRules(repo, base, base_tree)

    def changed_since_base(self) -> set[str]:
        """Paths whose content, mode or presence differs from the base (latest checkpoint)."""
        base = self._base_tree
        return {_text(p) for p in self.tree.keys() | base.keys() if self.tree.get(p) != base.get(p)}

    def known(self, path: bytes, signature: tuple) -> bool:
        """The file at ``path`` is unchanged since it was last read (local backend)."""
        return self._signatures.get(path) == signature and (
            path in self.tree or self._ignore._decided.get(path, False))

    def take(self, entries: Iterable[Entry], message: str) -> Checkpoint | None:
        """Commit the snapshot if anything changed since the last checkpoint."""
        new: Tree = {p: v for p, v in self.tree.items() if v[0] == "160000"}  # submodules stay
        blobs: dict[str, bytes] = {}
        skipped: list[bytes] = []
        seen: list[Entry] = []
        for entry in entries:
            seen.append(entry)
            if entry.signature is not None:
                self._signatures[entry.path] = entry.signature
        ignored = self._ignore.ignored([e.path for e in seen if e.path not in self._base_paths])
        for entry in seen:
            if entry.path in ignored:
                continue
            if entry.skipped:
                skipped.append(entry.path)
                if entry.path in self.tree:
                    new[entry.path] = self.tree[entry.path]
                continue
            if entry.data is None:  # unchanged since last read
                if entry.path in self.tree:
                    new[entry.path] = self.tree[entry.path]
                continue
            sha = blob_sha(entry.data)
            if sha not in self._known_blobs:
                blobs[sha] = entry.data
            new[entry.path] = (entry.mode, sha)
        if new == self.tree:
            return None
        changed = sorted({p for p in new.keys() | self.tree.keys() if new.get(p) != self.tree.get(p)})
        commit = self._write(new, changed, blobs, message, skipped)
        self._known_blobs.update(blobs)
        self.tree, self.parent = new, commit
        return Checkpoint(commit, [_text(p) for p in changed], [_text(p) for p in skipped])

    def _write(self, tree: Tree, changed: list[bytes], blobs: dict[str, bytes], message: str,
               skipped: list[bytes]) -> str:
        """One fast-import stream: the new blobs, then a commit on top of the parent that
        names only the changed paths (so only their trees are rebuilt)."""
        out = bytearray()
        marks: dict[str, int] = {}
        for n, (sha, data) in enumerate(blobs.items(), start=1):
            marks[sha] = n
            out += b"blob\nmark :%d\ndata %d\n" % (n, len(data)) + data + b"\n"
        if skipped:
            message += "\n\nSkipped (over the size limit):\n" + "".join(
                f"  {_text(p)}\n" for p in skipped)
        msg = message.encode("utf-8", "replace")
        out += (f"commit {self.ref}\ncommitter {ENGINE_NAME} <{ENGINE_EMAIL}> "
                f"{int(time.time())} +0000\n").encode()
        out += b"data %d\n" % len(msg) + msg + b"\n"
        out += f"from {self.parent}\n".encode()
        for path in changed:  # deletions first: a file may become a folder
            if path not in tree:
                out += b"D " + _quote(path) + b"\n"
        for path in changed:
            if path not in tree:
                continue
            mode, sha = tree[path]
            ref = f":{marks[sha]}" if sha in marks else sha
            out += f"M {mode} {ref} ".encode() + _quote(path) + b"\n"
        out += b"done\n"
        run_git(["fast-import", "--quiet", "--done"], git_dir=self.repo.git_dir, input=bytes(out))
        commit = self.repo.ref(self.ref)
        assert commit is not None
        return commit

    def close(self) -> None:
        self._ignore.close()


def _text(path: bytes) -> str:
    return path.decode("utf-8", "replace")


def _quote(path: bytes) -> bytes:
    """A C-style quoted path for fast-import (any byte is safe inside the quotes)."""
    out = bytearray(b'"')
    for b in path:
        if b in (0x22, 0x5C):
            out += b"\\" + bytes([b])
        elif 0x20 <= b < 0x7F:
            out.append(b)
        else:
            out += b"\\%03o" % b
    return bytes(out + b'"')
