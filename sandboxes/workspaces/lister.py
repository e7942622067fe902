"""The engine's side of the supervisor's workspace lister (sandboxes/supervisor/snapshot.c):
``supervisor --list ROOT`` gives a stat signature per file and link; compared with the
last listing, only the changed files are asked for (``supervisor --read ROOT MAX``).

The binary runs wherever the workspace is: inside a Docker container as the sandbox user
(sandboxes/workspaces/docker_snapshot.py), or on the host for the local backend; either
way through the sandbox's exec session, and either way it walks through descriptors and
never follows a symlink.  Its output is parsed as hostile data: anything malformed or cut
short makes the caller fall back to another way of reading the workspace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from sandboxes.workspaces.snapshot import MAX_FILE_BYTES, Changes, Entry, Signatures, git_mode

#: runs the supervisor binary with these arguments (and stdin) in the sandbox: (exit
#: code, stdout), or None without a session
Runner = Callable[..., Awaitable[tuple[int, bytes] | None]]
#: seconds a listing (or the read of the changed files) may take
LIST_TIMEOUT = 120.0
#: the end of a complete listing (snapshot.c)
_END = b"\0end\0"
#: paths per `--read` (its stdin) and expected bytes per read
READ_PATHS, READ_BYTES = 4096, 64 << 20


async def supervised_changes(run: Runner, root: str, known: Signatures,
                             max_bytes: int = MAX_FILE_BYTES) -> Changes | None:
    """Changes by the supervisor binary's ``--list`` and ``--read`` on the folder ``root``
    (``run`` starts it, in the sandbox); what it could not read is in ``unreadable``.
    None when it cannot be used (no session, a failed or cut-short listing)."""
    done = await run(["--list", root], timeout=LIST_TIMEOUT)
    listing = parse_list(done[1]) if done is not None and done[0] == 0 else None
    if listing is None:
        return None
    signatures, unreadable = listing
    changes = Changes(signatures, unreadable=unreadable)
    need = [p for p, sig in signatures.items() if known.get(p) != sig]
    for first, end in _batches(need, signatures):
        batch = need[first:end]
        done = await run(["--read", root, str(max_bytes)], stdin=b"\0".join(batch) + b"\0",
                         timeout=LIST_TIMEOUT)
        if done is None or done[0] != 0:
            return None
        for path in _take_answers(done[1], set(batch), changes):
            changes.signatures.pop(path, None)  # read again next time
            changes.unreadable.append(path)
    return changes


def parse_list(data: bytes) -> tuple[dict[bytes, bytes], list[bytes]] | None:
    """``--list`` output: path -> signature, and the folders it could not read; None if
    it is not complete."""
    if not data.endswith(_END):
        return None
    body = data[:-len(_END)]  # records "path NUL signature NUL", the last NUL included
    if body and not body.endswith(b"\0"):
        return None
    fields = body[:-1].split(b"\0") if body else []
    if len(fields) % 2:
        return None
    signatures = dict(zip(fields[0::2], fields[1::2], strict=True))
    unreadable = [p for p, sig in signatures.items() if sig == b"!"] if b"\0!\0" in data else []
    for path in unreadable:
        del signatures[path]
    return signatures, unreadable


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


def _take_answers(data: bytes, asked: set[bytes], changes: Changes) -> list[bytes]:
    """Entries from ``--read`` output into ``changes``; the paths it could not read."""
    again: list[bytes] = []
    pos = 0
    try:
        while pos < len(data):
            path, kind, mode, size, pos = _fields(data, pos)
            payload = data[pos:pos + size]
            pos += size
            if path not in asked or len(payload) != size:
                raise ValueError("an answer to a question not asked")
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
                again.append(path)
    except ValueError:
        pass
    return again + sorted(asked)  # and those not answered (a cut-short output)


def _fields(data: bytes, pos: int) -> tuple[bytes, bytes, int, int, int]:
    out = []
    for _ in range(4):
        end = data.index(b"\0", pos)
        out.append(data[pos:end])
        pos = end + 1
    return out[0], out[1], int(out[2] or b"0", 8), int(out[3]), pos
