"""Path confinement shared by every backend: a path must stay inside the workspace."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from sandboxes.base import PathEscapeError

#: Inside a container the workspace is mounted here; agents may use absolute
#: paths under it, on every backend.
CONTAINER_WORKSPACE = "/workspace"
MAX_FILE_BYTES = 10 * 1024 * 1024


def resolve_in_workspace(root: Path, path: str) -> Path:
    """Return the host path for ``path`` inside ``root``, or raise PathEscapeError.

    Refused: NUL bytes, ``..`` components, absolute paths outside the workspace
    (``/workspace/...`` and ``root/...`` are accepted), and any symlink on the
    way that leads outside the workspace, including ones a command created.
    """
    if not isinstance(path, str) or not path:
        raise PathEscapeError("path must be a non-empty string")
    if "\x00" in path:
        raise PathEscapeError(f"path {path!r} contains a NUL byte; use a plain relative path")
    root = Path(os.path.realpath(root))
    pure = PurePosixPath(path)
    if ".." in pure.parts:
        raise PathEscapeError(
            f"path {path!r} uses '..'; paths must stay inside the workspace"
        )
    if pure.is_absolute():
        text = str(pure)
        if text == CONTAINER_WORKSPACE or text.startswith(CONTAINER_WORKSPACE + "/"):
            rel = PurePosixPath(text).relative_to(CONTAINER_WORKSPACE)
        elif text == str(root) or text.startswith(str(root) + "/"):
            rel = PurePosixPath(text).relative_to(str(root))
        else:
            raise PathEscapeError(
                f"path {path!r} is outside the workspace; use a path relative to it"
            )
    else:
        rel = pure
    candidate = root.joinpath(*rel.parts) if rel.parts else root
    real = Path(os.path.realpath(candidate))
    if real != root and root not in real.parents:
        raise PathEscapeError(
            f"path {path!r} leads outside the workspace through a symlink; refused"
        )
    return real


def read_text(root: Path, path: str) -> str:
    target = resolve_in_workspace(root, path)
    if target.is_dir():
        raise PathEscapeError(f"{path!r} is a directory, not a file")
    # O_NOFOLLOW closes the window between the check above and the open.
    fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PathEscapeError(f"{path!r} is larger than {MAX_FILE_BYTES} bytes; read a part with run_command")
    return data.decode("utf-8", "replace")


def write_text(root: Path, path: str, content: str) -> Path:
    target = resolve_in_workspace(root, path)
    if target == Path(os.path.realpath(root)):
        raise PathEscapeError("write_file needs a file name, not the workspace itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    # re-check: mkdir could not have followed a symlink out, but the parent might be one
    resolve_in_workspace(root, path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content.encode("utf-8"))
    return target
