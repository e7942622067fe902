"""Git objects written by the engine itself, for checkpoints without a git process per
object: loose objects (zlib, as git writes them) in the engine's own repository, and a
commit's tree kept as folders so that a change rewrites only the trees of the folders
on its path; every other folder keeps its tree id.

Only ever used on the engine's bare repository (never on a workspace): what goes in is
data the engine already holds (blobs it hashed, trees it built).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import zlib
from pathlib import Path

from sandboxes.workspaces.git import run_git

TREE_MODE = "40000"
#: level of loose-object compression (git's default, core.looseCompression, is 1)
_LEVEL = 1

Folder = dict[bytes, tuple[str, str]]  # name -> (mode, id)


class TreeConflict(Exception):
    """A change puts a file where a folder still has files, or the reverse (a walk
    never does: the checkpoint fails, and the next one reads the tree again)."""

    def __init__(self, path: bytes) -> None:
        super().__init__(f"a checkpoint found both a file and a folder at {path.decode('utf-8', 'replace')}")


class LooseObjects:
    """Writes objects into ``git_dir/objects`` as git does (a temporary file, renamed)."""

    def __init__(self, git_dir: Path) -> None:
        self.root = git_dir / "objects"

    def write(self, kind: bytes, data: bytes) -> str:
        header = b"%s %d\0" % (kind, len(data))
        digest = hashlib.sha1(header)  # noqa: S324 - git's object id
        digest.update(data)
        oid = digest.hexdigest()
        folder = self.root / oid[:2]
        final = folder / oid[2:]
        if final.exists():
            return oid
        folder.mkdir(exist_ok=True)
        tmp = folder / f"tmp_obj_{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        try:
            packer = zlib.compressobj(_LEVEL)
            os.write(fd, packer.compress(header) + packer.compress(data) + packer.flush())
        finally:
            os.close(fd)
        os.replace(tmp, final)
        return oid


def tree_bytes(folder: Folder) -> bytes:
    """A tree object's content: entries by name, a folder sorting as ``name/``."""
    out = bytearray()
    for name in sorted(folder, key=lambda n: n + b"/" if folder[n][0] == TREE_MODE else n):
        mode, oid = folder[name]
        out += mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid)
    return bytes(out)


class TreeCache:
    """A commit's tree as folders (path -> entries); ``apply`` writes the new trees."""

    def __init__(self, folders: dict[bytes, Folder]) -> None:
        self.folders = folders
        self.folders.setdefault(b"", {})

    @classmethod
    def of_listing(cls, listing: bytes) -> TreeCache:
        """From ``git ls-tree -r -t -z --full-tree`` output."""
        folders: dict[bytes, Folder] = {b"": {}}
        for item in listing.split(b"\0"):
            if not item:
                continue
            meta, _, path = item.partition(b"\t")
            mode, kind, oid = meta.decode().split(" ")
            parent, _, name = path.rpartition(b"/")
            if kind == "tree":
                folders.setdefault(path, {})
                mode = TREE_MODE
            folders.setdefault(parent, {})[name] = (mode, oid)
        return cls(folders)

    def apply(self, updates: dict[bytes, tuple[str, str] | None], objects: LooseObjects) -> str:
        """Apply path -> (mode, blob id) or None (deleted); the new root tree's id.
        Raises TreeConflict (the cache is then unusable: build it again)."""
        dirty: set[bytes] = set()
        for path, value in updates.items():  # deletions first: a file may become a folder
            if value is None:
                parent, _, name = path.rpartition(b"/")
                entries = self.folders.get(parent)
                if entries is not None and entries.get(name, (TREE_MODE,))[0] != TREE_MODE:
                    del entries[name]
                    dirty.add(parent)
        for folder in sorted(dirty, key=len, reverse=True):  # emptied folders go
            self._prune(folder, dirty)
        for path, value in updates.items():
            if value is not None:
                parent, _, name = path.rpartition(b"/")
                entries = self._folder(parent, dirty)
                if entries.get(name, ("",))[0] == TREE_MODE:
                    raise TreeConflict(path)
                entries[name] = value
                dirty.add(parent)
        return self._write(dirty, objects)

    def _prune(self, folder: bytes, dirty: set[bytes]) -> None:
        while folder and not self.folders.get(folder, True):
            del self.folders[folder]
            parent, _, name = folder.rpartition(b"/")
            self.folders[parent].pop(name, None)
            dirty.discard(folder)
            dirty.add(parent)
            folder = parent

    def _folder(self, path: bytes, dirty: set[bytes]) -> Folder:
        """The folder at ``path``, made (with the missing ones above it) if need be."""
        missing = []
        while path not in self.folders:  # the root is always there
            missing.append(path)
            path = path.rpartition(b"/")[0]
        entries = self.folders[path]
        for folder in reversed(missing):
            parent, _, name = folder.rpartition(b"/")
            if name in entries:
                raise TreeConflict(folder)  # a file (or link) where a folder must go
            entries[name] = (TREE_MODE, "")
            dirty.add(parent)
            entries = self.folders[folder] = {}
        return entries

    def _write(self, dirty: set[bytes], objects: LooseObjects) -> str:
        """Write the changed folders' trees, deepest first; the root's id."""
        for folder in sorted(dirty | _ancestors(dirty), key=lambda f: -1 if not f else f.count(b"/"),
                             reverse=True):
            oid = objects.write(b"tree", tree_bytes(self.folders[folder]))
            if folder:
                parent, _, name = folder.rpartition(b"/")
                self.folders[parent][name] = (TREE_MODE, oid)
            else:
                return oid
        return objects.write(b"tree", tree_bytes(self.folders[b""]))


def _ancestors(folders: set[bytes]) -> set[bytes]:
    out: set[bytes] = {b""}
    for folder in folders:
        while folder:
            folder = folder.rpartition(b"/")[0]
            out.add(folder)
    return out


def update_ref(git_dir: Path, ref: str, new: str, old: str) -> None:
    """Point ``ref`` at ``new`` if it is still at ``old`` (40 zeros: if it does not exist)."""
    run_git(["update-ref", ref, new, old], git_dir=git_dir)
