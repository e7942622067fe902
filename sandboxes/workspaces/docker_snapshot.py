"""A Docker sandbox's workspace as DATA, for a checkpoint (see snapshot.py).

With an exec session, the supervisor binary lists the workspace inside the sandbox
(``supervisor --list``: a stat signature per file and link, as the sandbox user, through
descriptors, never following a symlink; sandboxes/supervisor/snapshot.c); the engine
compares the listing with the last one and asks the same binary for the changed files'
bytes (``--read``; sandboxes/workspaces/lister.py).  What the sandbox user cannot read (a file or folder the agent made
unreadable) comes through the daemon's archive API, which reads as root and resolves
paths inside the container.  Without a session (no C compiler for the supervisor, a TLS
daemon), a `find`/`stat` listing and the archive API do the same, more slowly.
Everything comes from inside the container, never from a host path; ``.git`` folders
are never read.
"""

from __future__ import annotations

import asyncio
import io
import stat
import tarfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sandboxes.workspaces.lister import LIST_TIMEOUT, supervised_changes
from sandboxes.workspaces.snapshot import (
    MAX_FILE_BYTES,
    Changes,
    Entry,
    Signatures,
    ignored_path,
)

if TYPE_CHECKING:
    from sandboxes.docker import DockerSandbox as Sandbox

#: the signature of a file read through an archive: never matches a listing's
NO_SIGNATURE = b"archive"


async def docker_changes(sandbox: Sandbox, known: Signatures, since: int = 0,
                         max_bytes: int = MAX_FILE_BYTES) -> Changes:
    """What changed in the container's /workspace since the walk that gave ``known`` (and
    the horizon ``since``)."""
    changes = await supervised_changes(sandbox.run_supervisor, "/workspace", known, since, max_bytes)
    if changes is None:
        return await _without_session(sandbox, known, max_bytes)
    if changes.unreadable:  # as root, through the daemon
        todo, changes.unreadable = changes.unreadable, []
        await asyncio.to_thread(_from_archives, sandbox, todo, changes, max_bytes)
    return changes


def _from_archives(sandbox: Sandbox, paths: list[bytes], changes: Changes, max_bytes: int) -> None:
    """Files and folders the sandbox user cannot read, through the archive API (blocking)."""
    api, cid = sandbox._api, sandbox.container_id  # noqa: SLF001 - the sandbox's own daemon
    for path in paths:
        try:
            entries = archive_entries(api, cid, path, max_bytes)
        except FileNotFoundError:
            continue  # gone
        except Exception:  # noqa: BLE001 - kept as it was, and said
            changes.unreadable.append(path)
            continue
        for entry in entries:
            changes.entries.append(entry)
            changes.signatures[entry.path] = NO_SIGNATURE


# -- the archive API -----------------------------------------------------------------------
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


def tar_entries(chunks: Iterator[bytes], top: bytes = b"workspace", under: bytes = b"",
                max_bytes: int = MAX_FILE_BYTES) -> Iterator[Entry]:
    """Entries of an archive of the folder or file ``top`` (its members are ``top`` and
    ``top/...``), named ``under`` + what follows ``top/`` (or ``under`` itself)."""
    stream = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 16)
    with tarfile.open(fileobj=stream, mode="r|", errors="surrogateescape") as tar:
        for member in tar:
            name = member.name.encode("utf-8", "surrogateescape").strip(b"/")
            if name == top:
                path = under
            elif name.startswith(top + b"/"):
                path = (under + b"/" if under else b"") + name[len(top) + 1:]
            else:
                continue
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


def archive_entries(api, container_id: str, path: bytes, max_bytes: int = MAX_FILE_BYTES) -> list[Entry]:
    """The file or folder ``path`` of /workspace through the archive API (FileNotFoundError
    if it is not there)."""
    from sandboxes.docker_client import _docker_module

    try:
        chunks = docker_chunks(api, container_id, "/workspace/" + path.decode("utf-8", "surrogateescape"))
        return list(tar_entries(chunks, top=path.rpartition(b"/")[2], under=path, max_bytes=max_bytes))
    except _docker_module().errors.NotFound:
        raise FileNotFoundError(path) from None


# -- without a session ---------------------------------------------------------------------
#: run in the sandbox (cwd /workspace): a stat signature per file and link, `.git` pruned
LISTING = ("find . -name .git -prune -o \\( -type f -o -type l \\) "
           "-exec stat -c '%i %s %y %z %f %n' {} +")
#: beyond this many changed files one archive of the whole workspace is cheaper
MAX_SINGLE_FETCHES = 200

Listing = dict[bytes, tuple]  # path -> (ino, size, mtime, ctime, raw mode)


async def _without_session(sandbox: Sandbox, known: Signatures, max_bytes: int) -> Changes:
    chunks: list[str] = []

    async def collect(text: str) -> None:  # the live stream: the result keeps max_output bytes
        chunks.append(text)

    result = await sandbox.exec(LISTING, LIST_TIMEOUT, collect)
    listing = parse_listing("".join(chunks)) if result.exit_code == 0 and not result.timed_out else None
    return await asyncio.to_thread(listed_changes, sandbox, listing, known, max_bytes)


def parse_listing(text: str) -> Listing | None:
    """The `find` listing's signatures, or None when it cannot be trusted to be complete
    (a name with a newline or bytes that are not UTF-8): then the whole workspace is read."""
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


def listed_changes(sandbox: Sandbox, listing: Listing | None, known: Signatures,
                   max_bytes: int = MAX_FILE_BYTES) -> Changes:
    """Changes from a `find` listing: files whose signature changed are fetched one by one
    through the archive API (or all at once when many changed, or without a listing)."""
    api, cid = sandbox._api, sandbox.container_id  # noqa: SLF001 - the sandbox's own daemon
    need = [] if listing is None else [p for p, sig in listing.items() if known.get(p) != sig]
    if listing is None or len(need) > MAX_SINGLE_FETCHES:
        entries = list(tar_entries(docker_chunks(api, cid), max_bytes=max_bytes))
        # signatures taken before the archive: a later change shows next time
        return Changes({e.path: (listing or {}).get(e.path, NO_SIGNATURE) for e in entries}, entries)
    changes = Changes(dict(listing))
    for path in need:
        sig = listing[path]
        mode = "120000" if stat.S_ISLNK(sig[4]) else "100755" if sig[4] & 0o111 else "100644"
        if mode != "120000" and sig[1] > max_bytes:
            changes.entries.append(Entry(path, mode, None, sig[1], skipped=True))
            continue
        try:
            found = [e for e in archive_entries(api, cid, path, max_bytes) if e.path == path]
        except FileNotFoundError:
            found = []
        changes.entries += found
        if not found:
            del changes.signatures[path]  # gone (or no longer a file) since the listing
    return changes
