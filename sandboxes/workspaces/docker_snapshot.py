"""A Docker sandbox's workspace as DATA, for a checkpoint (see snapshot.py).

A stat listing runs inside the sandbox first; only files whose signature changed come
through the daemon's archive API, which resolves paths inside the container (symlinks
arrive as symlinks, never followed).  Without a usable listing, the whole workspace
comes as one archive.  ``.git`` folders are never read.
"""

from __future__ import annotations

import io
import stat
import tarfile
from collections.abc import Iterator

from sandboxes.workspaces.snapshot import (
    MAX_FILE_BYTES,
    Changes,
    Entry,
    Signatures,
    ignored_path,
)

#: the signature of a file read from a whole archive: never matches a listing's
NO_SIGNATURE = ("archive",)


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
            if not path or ignored_path(path):
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


def docker_changes(api, container_id: str, listing: Listing | None, known: Signatures,
                   max_bytes: int = MAX_FILE_BYTES) -> Changes:
    """Changes from a listing: files whose signature changed are fetched one by one
    through the archive API (or all at once when many changed, or without a listing)."""
    if listing is None:
        entries = list(tar_entries(docker_chunks(api, container_id), max_bytes=max_bytes))
        return Changes({e.path: NO_SIGNATURE for e in entries}, entries)
    need = [p for p, sig in listing.items() if known.get(p) != sig]
    if len(need) > MAX_SINGLE_FETCHES:
        entries = list(tar_entries(docker_chunks(api, container_id), max_bytes=max_bytes))
        # signatures taken before the archive: a later change shows next time
        return Changes({e.path: listing.get(e.path, NO_SIGNATURE) for e in entries}, entries)
    changes = Changes(dict(listing))
    for path in need:
        sig = listing[path]
        mode = "120000" if stat.S_ISLNK(sig[4]) else "100755" if sig[4] & 0o111 else "100644"
        if mode != "120000" and sig[1] > max_bytes:
            changes.entries.append(Entry(path, mode, None, sig[1], skipped=True))
            continue
        entry = _fetch_one(api, container_id, path, max_bytes)
        if entry is None:
            del changes.signatures[path]  # gone since the listing
        else:
            entry.path = path
            changes.entries.append(entry)
    return changes


def _fetch_one(api, container_id: str, path: bytes, max_bytes: int) -> Entry | None:
    from sandboxes.docker_client import _docker_module

    try:
        chunks = docker_chunks(api, container_id, "/workspace/" + path.decode())
        return next(tar_entries(chunks, prefix="", max_bytes=max_bytes), None)
    except _docker_module().errors.NotFound:
        return None  # gone since the listing
