"""Host-side file access that never follows a path an agent could have changed.

Every open is relative to a directory file descriptor and refuses symlinks on
the way: ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)``
where the kernel has it (Linux 5.6+), else a component-by-component walk with
``openat(O_NOFOLLOW | O_DIRECTORY)``.  Files are opened with ``O_NONBLOCK`` and
checked with ``fstat`` on the descriptor, so a FIFO, a device or a socket is
refused at once instead of blocking or reading forever; ownership changes are
``fchown`` on the descriptor, never a path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from sandboxes.base import PathEscapeError

SYS_OPENAT2 = 437  # the same number on every architecture (unified syscall table)
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
_ALWAYS = os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY | os.O_NOFOLLOW
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
#: None until the first call finds out whether the kernel has openat2 (Linux only;
#: elsewhere, e.g. macOS, the O_NOFOLLOW walk is used)
_openat2_works: bool | None = None if sys.platform == "linux" else False
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)


def _openat2(dir_fd: int, rel: str, flags: int, mode: int) -> int | None:
    """openat2 beneath ``dir_fd``; None when the kernel (or a seccomp filter) lacks it."""
    global _openat2_works
    if _openat2_works is False:
        return None
    how = _OpenHow(flags, mode if flags & (os.O_CREAT | _O_TMPFILE) else 0, _RESOLVE)
    for _ in range(16):  # EAGAIN: a concurrent rename; the kernel asks us to retry
        fd = _libc.syscall(SYS_OPENAT2, dir_fd, os.fsencode(rel), ctypes.byref(how),
                           ctypes.sizeof(how))
        if fd >= 0:
            _openat2_works = True
            return fd
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM) and not _openat2_works:
            _openat2_works = False
            return None
        if err != errno.EAGAIN:
            raise OSError(err, os.strerror(err), rel)
    raise OSError(errno.EAGAIN, "the path kept changing while it was opened", rel)


def split_relative(relpath: str | PurePosixPath) -> list[str]:
    """The components of a relative path; refuses absolute paths, `..` and NUL."""
    text = str(relpath)
    if "\x00" in text:
        raise PathEscapeError(f"path {text!r} contains a NUL byte; use a plain relative path")
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise PathEscapeError(f"path {text!r} must be relative and stay beneath its folder")
    return [p for p in pure.parts if p not in ("", ".")]


@contextlib.contextmanager
def directory(path: str | Path) -> Iterator[int]:
    """A descriptor of a directory the host trusts (e.g. a workspace root), closed after."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _walk(dir_fd: int, parts: list[str], create: bool, owner: tuple[int, int] | None) -> int:
    """Open (and with ``create`` make) each directory of ``parts`` beneath ``dir_fd``."""
    fd = os.dup(dir_fd)
    try:
        for part in parts:
            made = False
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                    made = True
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
            if made and owner is not None:
                os.fchown(fd, *owner)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _refuse_symlinks(exc: OSError, rel: str) -> OSError:
    if exc.errno in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
        return PathEscapeError(f"path {rel!r} goes through a symlink or a non-folder, "
                               "or leads outside its folder; refused")
    if exc.errno == errno.EISDIR:
        return PathEscapeError(f"{rel!r} is a directory, not a file")
    if exc.errno == errno.ENXIO:  # a FIFO with no reader, opened for writing
        return PathEscapeError(f"{rel!r} is not a regular file; refused")
    return exc


def open_beneath(base: int | str | Path, relpath: str | PurePosixPath, flags: int,
                 mode: int = 0o666, *, make_parents: bool = False,
                 owner: tuple[int, int] | None = None) -> int:
    """Open ``relpath`` beneath ``base`` (a directory fd or a trusted directory path).

    No symlink is followed anywhere on the way, ``..`` and absolute paths are
    refused, and only a regular file is returned: a FIFO, device, socket or
    directory raises PathEscapeError without blocking.  ``O_TRUNC`` is applied
    with ``ftruncate`` after that check, so nothing else is ever truncated.
    ``make_parents`` creates missing directories (``owner`` then gets them and
    a newly created file, via fchown on the descriptor).
    """
    if not isinstance(base, int):
        with directory(base) as fd:
            return open_beneath(fd, relpath, flags, mode, make_parents=make_parents, owner=owner)
    parts = split_relative(relpath)
    if not parts:
        raise PathEscapeError("a file name is needed, not the folder itself")
    rel = "/".join(parts)
    truncate = bool(flags & os.O_TRUNC)
    flags = (flags & ~os.O_TRUNC) | _ALWAYS
    fd = -1
    try:
        existed = True
        if make_parents or flags & os.O_CREAT:
            parent = _walk(base, parts[:-1], make_parents, owner)
            try:
                fd, existed = _open_last(parent, parts[-1], flags, mode)
            finally:
                os.close(parent)
        else:
            opened = _openat2(base, rel, flags, mode)
            if opened is None:
                parent = _walk(base, parts[:-1], False, None)
                try:
                    opened = os.open(parts[-1], flags, mode, dir_fd=parent)
                finally:
                    os.close(parent)
            fd = opened
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise PathEscapeError(f"{rel!r} is {kind}; refused")
        writing = flags & (os.O_WRONLY | os.O_RDWR)
        if writing and st.st_nlink > 1:
            raise PathEscapeError(f"{rel!r} has other hard links; refused")
        if owner is not None and (not existed or st.st_uid == 0):
            os.fchown(fd, *owner)
        if truncate:
            os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
        return fd
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        raise _refuse_symlinks(exc, rel) from None
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise


def _open_last(parent: int, name: str, flags: int, mode: int) -> tuple[int, bool]:
    """Open the last component in ``parent``; True when it already existed."""
    if flags & os.O_CREAT and not flags & os.O_EXCL:
        try:
            return os.open(name, flags | os.O_EXCL, mode, dir_fd=parent), False
        except FileExistsError:
            return os.open(name, flags & ~os.O_CREAT, dir_fd=parent), True
    return os.open(name, flags, mode, dir_fd=parent), not flags & os.O_CREAT


def read_bytes(base: int | str | Path, relpath: str | PurePosixPath, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file beneath ``base`` (caller checks size)."""
    fd = open_beneath(base, relpath, os.O_RDONLY)
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit + 1)


def write_bytes(base: int | str | Path, relpath: str | PurePosixPath, data: bytes, *,
                append: bool = False, owner: tuple[int, int] | None = None) -> None:
    """Write (or append) ``data`` to a regular file beneath ``base``, making its folders."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = open_beneath(base, relpath, flags, 0o666, make_parents=True, owner=owner)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def open_host_file(path: str | Path, flags: int, *, make_parents: bool = False) -> int:
    """Open a host file named by a trusted absolute path (memory and rules files).

    The deepest folder of ``path`` that exists is opened without following a
    symlink at it, and the rest beneath it as :func:`open_beneath` does: a
    symlink planted at the file, or at its folder, is refused, never followed.
    """
    path = Path(os.path.abspath(path))
    anchor = path.parent
    while not os.path.lexists(anchor) and anchor != anchor.parent:
        anchor = anchor.parent
    if not make_parents and anchor != path.parent:
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path.parent))
    try:
        dir_fd = os.open(anchor, _DIR_FLAGS)
    except OSError as exc:
        raise _refuse_symlinks(exc, str(anchor)) from None
    try:
        return open_beneath(dir_fd, path.relative_to(anchor).as_posix(), flags,
                            0o666, make_parents=make_parents)
    finally:
        os.close(dir_fd)



def remove_tree(path: Path) -> None:
    """Remove a directory tree an agent may have made, of any depth: iteratively (no
    recursion limit: shutil.rmtree of Python 3.11 fails past ~1,000 levels), through
    directory descriptors with at most two open at a time (no path grows past PATH_MAX),
    never following a symlink (one is removed, not what it points to).  Going back up
    opens ``..``: meant for a tree no process changes meanwhile (a run that ended)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags)
    names: list[str] = []  # the way down from ``path`` to ``fd``
    try:
        while True:
            sub = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        sub = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if sub is not None:
                child = os.open(sub, flags, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(sub)
                continue
            if not names:
                break
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)


__all__ = ["directory", "open_beneath", "open_host_file", "read_bytes", "remove_tree",
           "split_relative", "write_bytes"]
