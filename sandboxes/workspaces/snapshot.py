"""Reading a workspace as DATA, for a checkpoint: never by host path names.

A walk compares what it finds with the signatures of the previous walk (path ->
inode, size, mtime and ctime in ns, mode) and returns :class:`Changes`: the new
signature of every file and link that is there, and an :class:`Entry` (with its bytes)
only for those whose signature changed.  So an unchanged file costs one `fstatat` and
a dictionary lookup, and a checkpoint after a one-file change reads one file.

- the supervisor binary's lister (sandboxes/workspaces/lister.py): inside the container
  for Docker, on the host for the local backend;
- without it (no C compiler), on the local backend, the walk here in Python: through
  directory descriptors (``openat`` with ``O_NOFOLLOW``, ``fstat`` on what was opened).
Either way a symlink is recorded as a link, a FIFO or device is skipped, nothing outside
the workspace is ever opened.

``.git`` folders are never read.  A file changed again within the same clock tick as
the walk that saw it could keep its signature (same size, same mtime and ctime), so a
file whose ctime is within :data:`RACY_NS` of the walk's start gets a signature that
never matches: it is read again next time (git's "racily clean" rule).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

#: files larger than this are recorded as skipped, not stored
MAX_FILE_BYTES = 8 * 1024 * 1024
#: a file changed less than this before a walk started is read again by the next one
RACY_NS = 2_000_000_000

Signature = object  # comparable with ==; its shape depends on the walk that made it
Signatures = Mapping[bytes, Signature]


@dataclass
class Entry:
    path: bytes
    mode: str  # "100644" | "100755" | "120000"
    data: bytes | None = None  # None: skipped (over the size limit)
    size: int = 0
    skipped: bool = False


@dataclass
class Changes:
    """What a walk found, against the signatures it was given."""

    #: every file and link present -> its signature (the next walk's ``known``)
    signatures: dict[bytes, Signature]
    #: present paths whose signature is new or changed, with their bytes
    entries: list[Entry] = field(default_factory=list)
    #: folders and files that could not be read: the last checkpoint's version stays
    unreadable: list[bytes] = field(default_factory=list)
    #: files whose ctime is at least this (ns) may have changed since this walk: the next
    #: listing sends their bytes along (sandboxes/workspaces/lister.py); 0: all of them
    horizon: int = 0

    def keeps(self, path: bytes) -> bool:
        """``path`` was not seen because it (or a folder above it) could not be read."""
        return any(path == u or path.startswith(u + b"/") for u in self.unreadable)


def is_git_dir(name: bytes) -> bool:
    """`.git` in any case (and its 8.3 short name): never read, never checked out later
    on a case-insensitive file system."""
    return name.lower() in (b".git", b"git~1")


def ignored_path(path: bytes) -> bool:
    return any(is_git_dir(part) for part in path.split(b"/"))


def git_mode(st_mode: int) -> str:
    if stat.S_ISLNK(st_mode):
        return "120000"
    return "100755" if st_mode & 0o111 else "100644"


# -- local -------------------------------------------------------------------------------
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_GONE = (errno.ENOENT, errno.ENOTDIR)
_GIT_NAMES = frozenset({".git", "git~1"})
_FS_ENCODING = sys.getfilesystemencoding()


def local_changes(workspace: str, known: Signatures, max_bytes: int = MAX_FILE_BYTES,
                  racy_ns: int = RACY_NS) -> Changes:
    """Walk a host workspace through descriptors; only files whose signature differs
    from ``known`` are opened and read."""
    walk = _LocalWalk(known, max_bytes, racy_ns)
    walk.walk(os.open(workspace, _DIR_FLAGS))
    return walk.changes


class _LocalWalk:
    def __init__(self, known: Signatures, max_bytes: int, racy_ns: int) -> None:
        self.known = known
        self.max_bytes = max_bytes
        self.start = time.time_ns()
        self.horizon = self.start - racy_ns
        self.changes = Changes({})

    def signature(self, st: os.stat_result) -> tuple:
        sig = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
        return sig if st.st_ctime_ns < self.horizon else (*sig, self.start)

    def walk(self, root: int) -> None:
        """Depth first with a stack, not recursion (an agent may nest folders thousands
        deep): one open descriptor per level, each folder's entries read at once."""
        try:
            stack = [(root, b"", iter(_entries(root)))]
        except BaseException:
            os.close(root)
            raise
        try:
            while stack:
                dir_fd, prefix, items = stack[-1]
                sub = self.files(dir_fd, prefix, items)
                if sub is None:
                    stack.pop()
                    os.close(dir_fd)
                    continue
                name, path = sub
                try:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError as exc:  # gone, or swapped for a link: the next walk sees it
                    if exc.errno not in _GONE and exc.errno != errno.ELOOP:
                        self.changes.unreadable.append(path)
                    continue
                try:
                    stack.append((fd, path + b"/", iter(_entries(fd))))
                except OSError:
                    os.close(fd)
                    self.changes.unreadable.append(path)
        finally:
            for dir_fd, _prefix, _items in stack:
                os.close(dir_fd)

    def files(self, dir_fd: int, prefix: bytes, items: Iterator[os.DirEntry]) -> tuple[str, bytes] | None:
        """Take the folder's files and links until a subfolder (returned) or the end."""
        known, sigs, horizon, start = self.known, self.changes.signatures, self.horizon, self.start
        encode, is_dir, is_reg, is_lnk = str.encode, stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK
        for item in items:
            name = item.name
            path = prefix + encode(name, _FS_ENCODING, "surrogateescape")
            try:
                st = item.stat(follow_symlinks=False)  # fstatat on the folder's descriptor
            except OSError as exc:
                if exc.errno not in _GONE:
                    self.changes.unreadable.append(path)
                continue
            if name.lower() in _GIT_NAMES:
                continue
            mode = st.st_mode
            if is_dir(mode):
                return name, path
            if not (is_reg(mode) or is_lnk(mode)):
                continue  # a FIFO, device or socket is not content
            ctime = st.st_ctime_ns
            sig = (st.st_ino, st.st_size, st.st_mtime_ns, ctime, mode)
            if ctime >= horizon:
                sig = (*sig, start)  # racily clean: never matches, read again next time
            sigs[path] = sig
            if known.get(path) != sig:
                self.read(dir_fd, name, path, mode)
        return None

    def read(self, dir_fd: int, name: str, path: bytes, mode: int) -> None:
        changes = self.changes
        if stat.S_ISLNK(mode):
            try:
                target = os.fsencode(os.readlink(name, dir_fd=dir_fd))
            except OSError:  # replaced meanwhile: read again next time
                changes.signatures.pop(path, None)
                changes.unreadable.append(path)
                return
            changes.entries.append(Entry(path, "120000", target, len(target)))
            return
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            changes.signatures.pop(path, None)
            if exc.errno not in _GONE:  # unreadable, or a link swapped in: never followed
                changes.unreadable.append(path)
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                changes.signatures.pop(path, None)
                changes.unreadable.append(path)
                return
            changes.signatures[path] = self.signature(st)  # what was read, if it changed since
            entry = _read_open_file(fd, path, st, self.max_bytes)
        except OSError:
            changes.signatures.pop(path, None)
            changes.unreadable.append(path)
            return
        finally:
            os.close(fd)
        changes.entries.append(entry)


def _entries(dir_fd: int) -> list[os.DirEntry]:
    with os.scandir(dir_fd) as listing:  # the folder's descriptor, no path walk
        return list(listing)


def _read_open_file(fd: int, path: bytes, st: os.stat_result, max_bytes: int) -> Entry:
    mode = git_mode(st.st_mode)
    if st.st_size > max_bytes:
        return Entry(path, mode, None, st.st_size, skipped=True)
    chunks = []
    total = 0
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:  # grew while read
            return Entry(path, mode, None, total, skipped=True)
    return Entry(path, mode, b"".join(chunks), total)
