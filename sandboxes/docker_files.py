"""File tools of the docker backend, run inside the container as the sandbox user.

The host never opens, stats or chowns a path inside a workspace: a path an agent
chose is only ever resolved by the container's kernel, in the container's mount
namespace, with the sandbox user's rights.  A symlink swapped in mid-call can
then only lead to what the agent could reach anyway with ``cat``; the host's
files are not in that namespace at all.  The scripts below are plain POSIX
``sh`` (busybox, Debian, Alpine) run through the exec session with the path as
an argument, never interpolated into the script.  They refuse, at once and
without blocking, directories, FIFOs, devices and sockets, and paths that lead
out of ``/workspace`` (checked as a courtesy: the kernel is the real boundary).

This also works when the Docker daemon is on another machine: nothing here
needs the workspace to be on this host.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from sandboxes.base import PathEscapeError, SandboxError
from sandboxes.paths import CONTAINER_WORKSPACE, MAX_FILE_BYTES, relative_in_workspace

FILE_TIMEOUT = 30.0

_INSIDE = r"""inside() { case "$1" in /workspace|/workspace/*) return 0;; esac; return 1; }
real() { readlink -f "$1" 2>/dev/null || realpath "$1" 2>/dev/null || echo /; }
d=${1%/*}
if [ -d "$d" ]; then inside "$(cd -P "$d" && pwd -P)" || exit 5; fi
if [ -L "$1" ]; then inside "$(real "$1")" || exit 5; fi
"""

READ_SCRIPT = _INSIDE + r"""p=$1
if [ -d "$p" ]; then exit 3; fi
if [ ! -e "$p" ]; then exit 2; fi
if [ ! -f "$p" ]; then exit 4; fi
exec head -c "$2" "$p"
"""

WRITE_SCRIPT = _INSIDE + r"""p=$1
mkdir -p "$d" || exit 6
inside "$(cd -P "$d" && pwd -P)" || exit 5
if [ -d "$p" ]; then exit 3; fi
if [ -e "$p" ] && [ ! -f "$p" ]; then exit 4; fi
cat >"$p"
"""


def container_path(workspace: Path, path: str) -> str:
    """``path`` as the agent gave it, as an absolute path under /workspace (or refused)."""
    return str(PurePosixPath(CONTAINER_WORKSPACE, *relative_in_workspace(workspace, path).parts))


def read_error(path: str, exit_code: int, stderr: str) -> Exception:
    if exit_code == 2:
        return FileNotFoundError(2, "no such file", path)
    if exit_code == 3:
        return IsADirectoryError(21, "is a directory", path)
    return _common_error(path, exit_code, stderr, "read")


def write_error(path: str, exit_code: int, stderr: str) -> Exception:
    if exit_code == 3:
        return PathEscapeError(f"{path!r} is a directory, not a file")
    return _common_error(path, exit_code, stderr, "write")


def _common_error(path: str, exit_code: int, stderr: str, verb: str) -> Exception:
    if exit_code == 4:
        return PathEscapeError(f"{path!r} is not a regular file (a FIFO, device or socket); refused")
    if exit_code == 5:
        return PathEscapeError(f"path {path!r} leads outside the workspace through a symlink; refused")
    if exit_code == 124:
        return SandboxError(f"could not {verb} {path!r} within {FILE_TIMEOUT:g}s; refused")
    detail = " ".join(stderr.split())[-200:] or f"exit code {exit_code}"
    return SandboxError(f"cannot {verb} {path!r}: {detail}")


def check_size(path: str, data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise PathEscapeError(
            f"{path!r} is larger than {MAX_FILE_BYTES} bytes; read a part with run_command")
    return data.decode("utf-8", "replace")
