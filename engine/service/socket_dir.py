"""Where control sockets live: a short, private, per-user directory.

``$XDG_RUNTIME_DIR/agentorch/`` when the session has a runtime directory of ours,
else ``/tmp/agentorch-<uid>/`` (Unix socket paths are limited to 108 bytes, so
never deep inside a project).  The directory must be ours and mode 0700: one
owned by another uid (planted in /tmp before us) or a symlink is refused; group or
other bits on our own directory are taken away.  Checked through a descriptor
opened with O_NOFOLLOW, so a swap between check and fix changes nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: sun_path is 108 bytes with its terminating NUL
MAX_SOCKET_PATH = 107


class SocketDirError(Exception):
    """The socket directory is unsafe or unusable (one sentence, what to do)."""


def default_socket_dir() -> Path:
    uid = os.getuid()
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        try:
            st = os.lstat(runtime)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode) and st.st_uid == uid:
            return Path(runtime) / "agentorch"
    return Path(f"/tmp/agentorch-{uid}")


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) or check the one there; SocketDirError when unsafe."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SocketDirError(f"cannot create the socket directory {path}: "
                             f"{exc.strerror or exc}; set XDG_RUNTIME_DIR to a directory "
                             "of yours") from None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise SocketDirError(f"the socket directory {path} is not a plain directory "
                             f"({exc.strerror or exc}); remove it") from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid():
            raise SocketDirError(
                f"the socket directory {path} belongs to uid {st.st_uid}, not to you "
                f"(uid {os.getuid()}): someone else may read your runs' sockets; remove it "
                "or set XDG_RUNTIME_DIR to a directory of yours")
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path


def socket_path(directory: Path, run_id: str) -> Path:
    path = directory / f"{run_id}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SocketDirError(f"the socket path {path} is longer than {MAX_SOCKET_PATH} bytes; "
                             "set XDG_RUNTIME_DIR to a shorter directory")
    return path
