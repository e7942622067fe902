"""The in-container supervisor binary: built once per source version, cached on the host.

The supervisor (``supervisor.c`` beside this file) is plain C with no dependencies,
linked statically so it runs in any image (busybox, Debian, Alpine) of the host's
architecture.  It is compiled on first use with the host's C compiler into
``$XDG_CACHE_HOME/agentorch/`` (or ``~/.cache/agentorch/``), keyed by a hash of
the source, so a changed source is rebuilt and two processes never race on one
file (the build goes to a temporary name, then is renamed).  Without a compiler
(or without a static C library) :func:`supervisor_binary` says why, and the
Docker backend falls back to one ``docker exec`` per command.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).with_name("supervisor.c")
#: Where the binary lives inside every container (a root-owned directory on /tmp).
CONTAINER_PATH = "/tmp/.agentorch/supervisor"


class SupervisorUnavailable(Exception):
    """The supervisor could not be built here; the message says why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agentorch"


def supervisor_binary() -> bytes:
    """The static supervisor binary for this machine's architecture (built if needed)."""
    return supervisor_path().read_bytes()


@cache
def supervisor_path() -> Path:
    """Where the built supervisor lies on this host (built on first use; a failure is
    remembered, so it is tried once per process)."""
    global _failure
    if _failure is not None:
        raise SupervisorUnavailable(_failure)
    try:
        return _build()
    except SupervisorUnavailable as exc:
        _failure = str(exc)
        raise


_failure: str | None = None


def _build() -> Path:
    return build_static(SOURCE, "supervisor", "the sandbox supervisor")


def build_static(source_path: Path, name: str, what: str) -> Path:
    """Compile ``source_path`` statically into the cache, keyed by its hash and that of
    the files it includes from its folder (raises SupervisorUnavailable saying why it
    cannot)."""
    source = source_path.read_bytes()
    digest = hashlib.sha256(source + b"".join(
        (source_path.parent / local.decode()).read_bytes()
        for local in re.findall(rb'^#include "([A-Za-z0-9_.-]+)"', source, re.M))).hexdigest()[:16]
    target = cache_dir() / f"{name}-{digest}-{platform.machine()}"
    if target.is_file():
        return target
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not compiler:
        raise SupervisorUnavailable(f"no C compiler (gcc) to build {what}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=target.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [compiler, "-static", "-Os", "-s", "-o", tmp, str(source_path)],
            capture_output=True, text=True, timeout=120,
        )
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise SupervisorUnavailable(
                f"could not build {what} ({first}); install gcc and a static "
                "C library (Debian: build-essential)"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
