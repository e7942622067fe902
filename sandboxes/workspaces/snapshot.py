"""Reading a workspace as DATA, for a checkpoint: never by host path names.

- Docker: a tar stream of ``/workspace`` from the daemon's archive API, which resolves
  the path inside the container; symlinks arrive as symlinks, never followed.
- local: a walk through directory descriptors (``openat`` with ``O_NOFOLLOW``,
  ``fstat`` on what was opened): a symlink is recorded as a link, a FIFO or device is
  skipped, nothing outside the workspace is ever opened.

Both yield :class:`Entry` items: path, git mode and (for a file whose content is not
already known by its stat signature) its bytes.  ``.git`` folders are never read.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

#: files larger than this are recorded as skipped, not stored
MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass
class Entry:
    path: bytes
    mode: str  # "100644" | "100755" | "120000"
    data: bytes | None = None  # None: unchanged since the signature, or skipped
    size: int = 0
    signature: tuple | None = None  # local: (ino, size, mtime_ns, ctime_ns, mode)
    skipped: bool = False


def _ignored_path(path: bytes) -> bool:
    return any(is_git_dir(part) for part in path.split(b"/"))


def is_git_dir(name: bytes) -> bool:
    """`.git` in any case (and its 8.3 short name): never read, never checked out later
    on a case-insensitive file system."""
    return name.lower() in (b".git", b"git~1")


# -- Docker --------------------------------------------------------------------------------
class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks (the archive API's stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def tar_entries(chunks: Iterator[bytes], prefix: str = "workspace/",
                max_bytes: int = MAX_FILE_BYTES) -> Iterator[Entry]:
    """Entries of a tar stream whose members sit under ``prefix``."""
    stream = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 16)
    with tarfile.open(fileobj=stream, mode="r|", errors="surrogateescape") as tar:
        for member in tar:
            name = member.name
            if not name.startswith(prefix):
                continue
            path = name[len(prefix):].strip("/").encode("utf-8", "surrogateescape")
            if not prefix:  # one file fetched by its path: the member is its base name
                path = path.rsplit(b"/", 1)[-1]
            if not path or _ignored_path(path):
                continue
            if member.issym():
                yield Entry(path, "120000", member.linkname.encode("utf-8", "surrogateescape"))
            elif member.isreg():
                mode = "100755" if member.mode & 0o111 else "100644"
                if member.size > max_bytes:
                    yield Entry(path, mode, None, member.size, skipped=True)
                    continue
                f = tar.extractfile(member)
                yield Entry(path, mode, f.read() if f else b"", member.size)


def docker_chunks(api, container_id: str, workdir: str = "/workspace") -> Iterator[bytes]:
    stream, _stat = api.get_archive(container_id, workdir)
    return iter(stream)


#: run in the sandbox (cwd /workspace) before a checkpoint: a stat signature per file and
#: link, `.git` folders pruned, so that only changed files travel through the archive API
LISTING = ("find . -name .git -prune -o \\( -type f -o -type l \\) "
           "-exec stat -c '%i %s %y %z %f %n' {} +")
#: beyond this many changed files one archive of the whole workspace is cheaper
MAX_SINGLE_FETCHES = 200

Listing = dict[bytes, tuple]  # path -> (ino, size, mtime, ctime, raw mode)


def parse_listing(text: str) -> Listing | None:
    """The listing's signatures, or None when it cannot be trusted to be complete (a
    name with a newline or bytes that are not UTF-8): then the whole workspace is read."""
    out: Listing = {}
    for line in text.splitlines():
        parts = line.split(" ", 9)
        if len(parts) != 10 or not parts[9].startswith("./") or "\ufffd" in line:
            return None
        ino, size, y1, y2, _ytz, z1, z2, _ztz, raw, name = parts
        try:
            out[name[2:].encode()] = (int(ino), int(size), f"{y1} {y2}", f"{z1} {z2}", int(raw, 16))
        except ValueError:
            return None
    return out


def docker_entries(api, container_id: str, listing: Listing, known: Callable[[bytes, tuple], bool],
                   max_bytes: int = MAX_FILE_BYTES) -> Iterator[Entry]:
    """Entries from a listing: unchanged files by signature only, changed ones fetched one
    by one through the archive API (or all at once when many changed)."""
    need = {p for p, sig in listing.items() if not known(p, sig)}
    if len(need) > MAX_SINGLE_FETCHES:
        for entry in tar_entries(docker_chunks(api, container_id), max_bytes=max_bytes):
            entry.signature = listing.get(entry.path)  # taken before: a later change shows
            yield entry
        return
    for path, sig in listing.items():
        raw = sig[4]
        mode = "120000" if stat.S_ISLNK(raw) else "100755" if raw & 0o111 else "100644"
        if path not in need:
            yield Entry(path, mode, None, sig[1], sig)
        elif mode != "120000" and sig[1] > max_bytes:
            yield Entry(path, mode, None, sig[1], sig, skipped=True)
        else:
            entry = _fetch_one(api, container_id, path, max_bytes)
            if entry is not None:
                entry.path, entry.signature = path, sig
                yield entry


def _fetch_one(api, container_id: str, path: bytes, max_bytes: int) -> Entry | None:
    from sandboxes.docker_client import _docker_module

    try:
        chunks = docker_chunks(api, container_id, "/workspace/" + path.decode())
        return next(tar_entries(chunks, prefix="", max_bytes=max_bytes), None)
    except _docker_module().errors.NotFound:
        return None  # gone since the listing



# -- local -------------------------------------------------------------------------------
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def local_entries(workspace: str, known: Callable[[bytes, tuple], bool],
                  max_bytes: int = MAX_FILE_BYTES) -> Iterator[Entry]:
    """Entries of a host workspace read through descriptors.  ``known(path, signature)``
    says the file is unchanged since the last checkpoint: its bytes are then not read."""
    root = os.open(workspace, _DIR_FLAGS)
    try:
        yield from _walk(root, b"", known, max_bytes)
    finally:
        os.close(root)


def _walk(dir_fd: int, prefix: bytes, known, max_bytes: int) -> Iterator[Entry]:
    with os.scandir(dir_fd) as listing:  # fstatat on the folder's descriptor, no path walk
        found = list(listing)
    for item in found:
        name = item.name
        raw = os.fsencode(name)
        path = prefix + raw
        if is_git_dir(raw):
            continue
        try:
            st = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            try:
                yield Entry(path, "120000", os.fsencode(os.readlink(name, dir_fd=dir_fd)))
            except OSError:
                pass
        elif stat.S_ISDIR(st.st_mode):
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue  # swapped for something else meanwhile
            try:
                yield from _walk(fd, path + b"/", known, max_bytes)
            finally:
                os.close(fd)
        elif stat.S_ISREG(st.st_mode):
            signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
            if known(path, signature):  # unchanged since it was last read: not opened
                mode = "100755" if st.st_mode & 0o111 else "100644"
                yield Entry(path, mode, None, st.st_size, signature)
                continue
            entry = _read_file(dir_fd, name, path, known, max_bytes)
            if entry is not None:
                yield entry


def _read_file(dir_fd: int, name: str, path: bytes, known, max_bytes: int) -> Entry | None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None  # gone, or a symlink swapped in: never followed
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        mode = "100755" if st.st_mode & 0o111 else "100644"
        signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
        if st.st_size > max_bytes:
            return Entry(path, mode, None, st.st_size, signature, skipped=True)
        if known(path, signature):
            return Entry(path, mode, None, st.st_size, signature)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if sum(map(len, chunks)) > max_bytes:
                return Entry(path, mode, None, st.st_size, None, skipped=True)
        return Entry(path, mode, b"".join(chunks), st.st_size, signature)
    finally:
        os.close(fd)
