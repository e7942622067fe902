"""Checkpoints: a workspace's changes (data from sandboxes/workspaces/snapshot.py) become
a commit on ``refs/agentorch/checkpoints/<run>/<agent>`` in the engine's repository; host
git never looks at the agent's tree.

Only what changed costs: a walk reads only files whose stat signature changed; the new
blobs, the trees of the folders on the changed paths (sandboxes/workspaces/objects.py:
every other folder keeps its tree id) and the commit are written by the engine as loose
objects, and one `git update-ref` moves the ref.  Blobs already known (by content hash)
are referenced, not written again.  Ignore rules are
the base commit's `.gitignore` files (never the agent's); a path the base tracks is never
ignored.
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
from sandboxes.workspaces.objects import LooseObjects, TreeCache, update_ref
from sandboxes.workspaces.repo import EngineRepo, base_ref, checkpoint_ref
from sandboxes.workspaces.snapshot import Changes, Signature

Tree = dict[bytes, tuple[str, str]]  # path -> (mode, blob sha)
#: the expected old value of a ref that does not exist yet
NO_REF = "0" * 40
#: up to this many new blobs are written as loose objects, more as one pack
LOOSE_BLOBS = 64


@dataclass
class Checkpoint:
    commit: str
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


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


def read_tree_and_folders(repo: EngineRepo, commit: str) -> tuple[Tree, TreeCache]:
    """A commit's files (as read_tree) and its folders with their tree ids."""
    out = run_git(["ls-tree", "-r", "-t", "-z", "--full-tree", commit], git_dir=repo.git_dir).stdout
    folders = TreeCache.of_listing(out)
    tree: Tree = {}
    for item in out.split(b"\0"):
        meta, _, path = item.partition(b"\t")
        if item:
            mode, kind, sha = meta.decode().split(" ")
            if kind != "tree":
                tree[path] = (mode, sha)
    return tree, folders


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
    """Turns snapshots of one agent's workspace into a chain of checkpoint commits.

    ``tree`` is the latest checkpoint's tree (flat: path -> mode, blob id) and
    ``signatures`` the last walk's (sandboxes/workspaces/snapshot.py): a walk reads only
    what changed since, and a checkpoint costs the changed paths, not the tree."""

    def __init__(self, repo: EngineRepo, run_id: str, agent_id: str) -> None:
        self.repo = repo
        self.ref = checkpoint_ref(run_id, agent_id)
        base = repo.ref(base_ref(run_id, agent_id))
        if base is None:
            raise ValueError(f"no base commit recorded for {agent_id} in run {run_id}")
        self.base = base
        self._objects = LooseObjects(repo.git_dir)
        current = repo.ref(self.ref)
        base_tree, folders = read_tree_and_folders(repo, base)
        self._ignore = IgnoreRules(repo, base, base_tree)
        if current is not None and current != base:
            tree, folders = read_tree_and_folders(repo, current)
        else:
            tree = base_tree
        self.restart_at(current or base, tree, base_tree)
        self._folders: TreeCache | None = folders
        self._ref_at = current or NO_REF

    def restart_at(self, commit: str, tree: Tree, base_tree: Tree | None = None) -> None:
        """Go on from ``commit`` (whose tree is ``tree``; the caller points the checkpoint
        ref at it); overlaps are counted from ``base_tree`` (default: that tree).  The
        next walk reads every file again."""
        base_tree = tree if base_tree is None else base_tree
        self.parent, self.tree = commit, dict(tree)
        self._folders, self._ref_at = None, commit
        self._base_tree = base_tree
        self._base_paths = set(base_tree)
        self._known_blobs = {sha for _, sha in base_tree.values()} | {sha for _, sha in tree.values()}
        self._differs = {p for p in tree.keys() | base_tree.keys() if tree.get(p) != base_tree.get(p)}
        self.signatures: dict[bytes, Signature] = {}
        self.horizon = 0  # the last walk's (Changes.horizon)

    def changed_since_base(self) -> set[str]:
        """Paths whose content, mode or presence differs from the base (latest checkpoint)."""
        return {_text(p) for p in self._differs}

    def take(self, changes: Changes, message: str) -> Checkpoint | None:
        """Commit a walk's changes if any path's content, mode or presence changed."""
        tree = self.tree
        updates: dict[bytes, tuple[str, str] | None] = {}
        for path in tree.keys() - changes.signatures.keys():  # gone (or not readable now)
            if tree[path][0] != "160000" and not (changes.unreadable and changes.keeps(path)):
                updates[path] = None
        fresh = [e.path for e in changes.entries if e.path not in self._base_paths]
        ignored = self._ignore.ignored(fresh) if fresh else set()
        blobs: dict[str, bytes] = {}
        skipped: list[bytes] = []
        for entry in changes.entries:
            if entry.path in ignored or self._in_submodule(entry.path):
                continue
            if entry.skipped or entry.data is None:  # the last checkpoint's version stays
                skipped.append(entry.path)
                continue
            sha = blob_sha(entry.data)
            value = (entry.mode, sha)
            if tree.get(entry.path) != value:
                updates[entry.path] = value
                if sha not in self._known_blobs:
                    blobs[sha] = entry.data
        if not updates:
            self.signatures, self.horizon = changes.signatures, changes.horizon
            return None
        commit = self._commit(updates, blobs, _message(message, skipped, changes.unreadable))
        base = self._base_tree
        for path, value in updates.items():
            if value is None:
                tree.pop(path, None)
            else:
                tree[path] = value
            if tree.get(path) != base.get(path):
                self._differs.add(path)
            else:
                self._differs.discard(path)
        self._known_blobs.update(blobs)
        self.parent, self.signatures, self.horizon = commit, changes.signatures, changes.horizon
        return Checkpoint(commit, [_text(p) for p in sorted(updates)], [_text(p) for p in skipped],
                          sorted(_text(p) for p in changes.unreadable))

    def _in_submodule(self, path: bytes) -> bool:
        """Inside a submodule's folder: another repository's files, never checkpointed."""
        while b"/" in path:
            path = path.rpartition(b"/")[0]
            if self.tree.get(path, ("",))[0] == "160000":
                return True
        return False

    def _commit(self, updates: dict[bytes, tuple[str, str] | None], blobs: dict[str, bytes],
                message: bytes) -> str:
        """Write the blobs, the trees of the changed folders and the commit, then move the
        ref (only if it is still where this checkpointer left it)."""
        try:
            if self._folders is None:
                self._folders = read_tree_and_folders(self.repo, self.parent)[1]
            if len(blobs) > LOOSE_BLOBS:
                self._fast_import(blobs)
            else:
                for data in blobs.values():
                    self._objects.write(b"blob", data)
            root = self._folders.apply(updates, self._objects)
            stamp = f"{ENGINE_NAME} <{ENGINE_EMAIL}> {int(time.time())} +0000"
            commit = self._objects.write(b"commit", (
                f"tree {root}\nparent {self.parent}\nauthor {stamp}\ncommitter {stamp}\n\n"
            ).encode() + message)
            update_ref(self.repo.git_dir, self.ref, commit, self._ref_at)
        except BaseException:
            self._folders = None  # may hold part of this change: read again next time
            raise
        self._ref_at = commit
        return commit

    def _fast_import(self, blobs: dict[str, bytes]) -> None:
        """Many new blobs at once: one pack by `git fast-import` instead of loose files."""
        out = bytearray()
        for data in blobs.values():
            out += b"blob\ndata %d\n" % len(data) + data + b"\n"
        run_git(["fast-import", "--quiet", "--done"], git_dir=self.repo.git_dir, input=bytes(out) + b"done\n")

    def close(self) -> None:
        self._ignore.close()


def _message(message: str, skipped: list[bytes], unreadable: list[bytes]) -> bytes:
    if skipped:
        message += "\n\nSkipped (over the size limit):\n" + "".join(f"  {_text(p)}\n" for p in skipped)
    if unreadable:
        message += ("\n\nNot readable (kept as in the previous checkpoint):\n"
                    + "".join(f"  {_text(p)}\n" for p in unreadable))
    return message.encode("utf-8", "replace")


def _text(path: bytes) -> str:
    return path.decode("utf-8", "replace")
