"""How much disk an agent's clone of a commit will take, known before it is made.

Read from the engine's own repository (pure data, nothing checked out): the commit's
tree gives the files and their sizes (`git ls-tree -r -l`), each rounded up to the file
system's 4 KiB blocks with 4 KiB per folder, as `du` will count them; the history is
at most the engine repository's object store (`git count-objects`), which a
`--no-local` clone copies (one branch of it).  Large files tracked with Git LFS are
pointer files in the tree, and stay pointers in the clone: the engine never runs the
LFS filter, so only their few hundred bytes count.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandboxes.workspaces.git import run_git
from sandboxes.workspaces.repo import EngineRepo

BLOCK = 4096


@dataclass(frozen=True)
class CloneSize:
    files: int
    content: int  # bytes of the files checked out
    on_disk: int  # what the checked-out tree takes in blocks, plus the history
    history: int  # bytes of the object store the clone copies (at most)
    lfs: bool  # a .gitattributes routes files through Git LFS (they arrive as pointers)


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def clone_size(repo: EngineRepo, commit: str) -> CloneSize:
    out = run_git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit], git_dir=repo.git_dir).stdout
    files = content = blocks = 0
    folders: set[bytes] = set()
    attributes: list[str] = []
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, _, path = item.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != b"blob":
            continue  # a submodule: not cloned
        size = int(fields[3])
        files += 1
        content += size
        blocks += _blocks(size)
        parts = path.split(b"/")
        folders.update(b"/".join(parts[:i]) for i in range(1, len(parts)))
        if parts[-1] == b".gitattributes":
            attributes.append(fields[2].decode())
    history = _object_store(repo)
    lfs = any(b"filter=lfs" in run_git(["cat-file", "blob", sha], git_dir=repo.git_dir).stdout
              for sha in attributes[:50])
    return CloneSize(files, content, blocks + BLOCK * (len(folders) + 1) + history, history, lfs)


def _object_store(repo: EngineRepo) -> int:
    """Bytes of the engine repository's objects, loose and packed (`count-objects -v`)."""
    out = run_git(["count-objects", "-v"], git_dir=repo.git_dir).stdout.decode()
    kib = 0
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("size", "size-pack"):
            kib += int(value.strip() or 0)
    return kib * 1024
