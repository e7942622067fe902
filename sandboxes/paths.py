"""Path confinement shared by every backend: a path must stay inside the workspace."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from sandboxes import hostfs
from sandboxes.base import PathEscapeError

#: Inside a container the workspace is mounted here; agents may use absolute
#: paths under it, on every backend.
CONTAINER_WORKSPACE = "/workspace"
MAX_FILE_BYTES = 10 * 1024 * 1024


def relative_in_workspace(root: Path, path: str) -> PurePosixPath:
    """The path of ``path`` relative to the workspace ``root``, or raise PathEscapeError.

    Refused: NUL bytes, ``..`` components and absolute paths outside the workspace
    (``/workspace/...`` and ``root/...`` are accepted).  Symlinks are refused when
    the file is opened (:mod:`sandboxes.hostfs`), never resolved by name here.
    """
    if not isinstance(path, str) or not path:
        raise PathEscapeError("path must be a non-empty string")
    if "\x00" in path:
        raise PathEscapeError(f"path {path!r} contains a NUL byte; use a plain relative path")
    pure = PurePosixPath(path)
    if ".." in pure.parts:
        raise PathEscapeError(
            f"path {path!r} uses '..'; paths must stay inside the workspace"
        )
    if not pure.is_absolute():
        return pure
    root_text = os.path.realpath(root)
    for prefix in (CONTAINER_WORKSPACE, root_text, str(root)):
        if pure == PurePosixPath(prefix) or str(pure).startswith(prefix.rstrip("/") + "/"):
            return pure.relative_to(prefix)
    raise PathEscapeError(f"path {path!r} is outside the workspace; use a path relative to it")


def read_text(root: Path, path: str) -> str:
    """A file of the workspace, opened beneath it without following any symlink."""
    rel = relative_in_workspace(root, path)
    if not hostfs.split_relative(rel):
        raise PathEscapeError(f"{path!r} is a directory, not a file")
    data = hostfs.read_bytes(root, rel, MAX_FILE_BYTES)
    if len(data) > MAX_FILE_BYTES:
        raise PathEscapeError(f"{path!r} is larger than {MAX_FILE_BYTES} bytes; read a part with run_command")
    return data.decode("utf-8", "replace")


def write_text(root: Path, path: str, content: str,
               owner: tuple[int, int] | None = None) -> Path:
    """Write a workspace file beneath ``root`` (folders made, no symlink followed).

    ``owner`` (uid, gid) is given what this creates, by fchown on the descriptor.
    Returns the file's path for display; the host never opens it by that name.
    """
    rel = relative_in_workspace(root, path)
    if not hostfs.split_relative(rel):
        raise PathEscapeError("write_file needs a file name, not the workspace itself")
    hostfs.write_bytes(root, rel, content.encode("utf-8"), owner=owner)
    return Path(root) / rel
