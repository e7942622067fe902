"""The engine's side of the supervisor's workspace lister (sandboxes/supervisor/snapshot.c):
``supervisor --list ROOT SINCE MAX`` gives a stat signature per file and link, and the
bytes of the files whose ctime is at least SINCE (the last listing's horizon: what changed
since, or was racily clean then); compared with the last listing, the changed files it
did not already send are asked for (``supervisor --read ROOT MAX``).

The binary runs wherever the workspace is: inside a Docker container as the sandbox user
(sandboxes/workspaces/docker_snapshot.py), or on the host for the local backend; either
way through the sandbox's exec session, and either way it walks through descriptors and
never follows a symlink.  Its output is parsed as hostile data: anything malformed or cut
short makes the caller fall back to another way of reading the workspace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from sandboxes.workspaces.snapshot import MAX_FILE_BYTES, RACY_NS, Changes, Entry, Signatures, git_mode

#: runs the supervisor binary with these arguments (and stdin) in the sandbox: (exit
#: code, stdout), or None without a session
Runner = Callable[..., Awaitable[tuple[int, bytes] | None]]
#: seconds a listing (or the read of the changed files) may take
LIST_TIMEOUT = 120.0
#: the end of a complete listing (snapshot.c)
_END = b"\0end\0"
#: paths per `--read` (its stdin) and expected bytes per read
READ_PATHS, READ_BYTES = 4096, 64 << 20


async def supervised_changes(run: Runner, root: str, known: Signatures, since: int = 0,
                             max_bytes: int = MAX_FILE_BYTES) -> Changes | None:
    """Changes by the supervisor binary's ``--list`` and ``--read`` on the folder ``root``
    (``run`` starts it, in the sandbox), against the signatures ``known`` of the walk
    whose ``horizon`` was ``since``; what it could not read is in ``unreadable``.  None
    when it cannot be used (no session, a failed or cut-short listing)."""
    done = await run(["--list", root, str(since), str(max_bytes)], timeout=LIST_TIMEOUT)
    listing = parse_list(done[1]) if done is not None and done[0] == 0 else None
    if listing is None:
        return None
    changes = Changes(listing.signatures, unreadable=listing.unreadable,
                      horizon=listing.start - RACY_NS)
    need = [p for p, sig in listing.signatures.items() if known.get(p) != sig]
    asked = set(need)
    failed = _take_answers(listing.answers, asked, changes, others=True)  # came with the listing
    rest = [p for p in need if p in asked]
    for first, end in _batches(rest, listing.signatures):
        batch = rest[first:end]
        done = await run(["--read", root, str(max_bytes)], stdin=b"\0".join(batch) + b"\0",
                         timeout=LIST_TIMEOUT)
        if done is None or done[0] != 0:
            return None
        batch_asked = set(batch)
        failed += _take_answers(done[1], batch_asked, changes) + sorted(batch_asked)
    for path in failed:
        changes.signatures.pop(path, None)  # read again next time
        changes.unreadable.append(path)
    return changes


@dataclass
class Listing:
    signatures: dict[bytes, bytes]
    unreadable: list[bytes]  # folders it could not read
    start: int  # when the walk started (ns, the sandbox's clock)
    answers: bytes  # --read answers for the files changed since SINCE


def parse_list(data: bytes) -> Listing | None:
    """``--list`` output, or None if it is not complete."""
    end = 0 if data.startswith(_END) else data.find(b"\0" + _END) + 1
    if end <= 0 and not data.startswith(_END):
        return None
    body = data[:end]  # records "path NUL signature NUL", the last NUL included
    start, nul, answers = data[end + len(_END):].partition(b"\0")
    if not nul or not start.isdigit():
        return None
    fields = body[:-1].split(b"\0") if body else []
    if len(fields) % 2:
        return None
    signatures = dict(zip(fields[0::2], fields[1::2], strict=True))
    unreadable = [p for p, sig in signatures.items() if sig == b"!"] if b"\0!\0" in body else []
    for path in unreadable:
        del signatures[path]
    return Listing(signatures, unreadable, int(start), answers)


def _batches(need: list[bytes], signatures: dict[bytes, bytes]) -> Iterator[tuple[int, int]]:
    """Ranges of ``need`` small enough for one `--read` each."""
    start, size = 0, 0
    for i, path in enumerate(need):
        try:
            size += int(signatures[path].split(b":", 2)[1])
        except (IndexError, ValueError):
            pass
        if i + 1 - start >= READ_PATHS or size >= READ_BYTES:
            yield start, i + 1
            start, size = i + 1, 0
    if start < len(need):
        yield start, len(need)


def _take_answers(data: bytes, asked: set[bytes], changes: Changes, others: bool = False) -> list[bytes]:
    """Entries from ``--read`` answers into ``changes``, taking each answered path out of
    ``asked``; the paths that could not be read.  An answer to a path not asked ends the
    reading (``others``: it is passed over: the listing's answers may hold more)."""
    failed: list[bytes] = []
    pos = 0
    try:
        while pos < len(data):
            path, kind, mode, size, pos = _fields(data, pos)
            payload = data[pos:pos + size]
            pos += size
            if len(payload) != size:
                break  # cut short
            if path not in asked:
                if others:
                    continue
                break
            asked.discard(path)
            if kind == b"f":
                changes.entries.append(Entry(path, git_mode(mode), payload, size))
            elif kind == b"l":
                changes.entries.append(Entry(path, "120000", payload, size))
            elif kind == b"s":
                changes.entries.append(Entry(path, git_mode(mode), None, 0, skipped=True))
            elif kind == b"g":
                changes.signatures.pop(path, None)  # gone since the listing
            else:
                failed.append(path)
    except ValueError:
        pass  # cut short: what is still asked is asked again
    return failed


def _fields(data: bytes, pos: int) -> tuple[bytes, bytes, int, int, int]:
    out = []
    for _ in range(4):
        end = data.index(b"\0", pos)
        out.append(data[pos:end])
        pos = end + 1
    return out[0], out[1], int(out[2] or b"0", 8), int(out[3]), pos
