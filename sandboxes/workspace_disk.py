"""A size limit for a workspace (``resources.disk``), so that an agent cannot fill the
disk that holds the database.

Strong form (as root, docker backend, a new or empty workspace): the workspace is
its own ext4 file system in a sparse image file beside it
(``.<name>.agentorch-disk.ext4``, outside the workspace), loop-mounted on the
workspace directory with ``nosuid,nodev``.  The kernel refuses writes beyond the
limit (ENOSPC) whatever the agent does; the image survives crashes and is mounted
again by the next start or a resume.  The mount stays after the run, so the files
stay visible where they were; ``umount WORKSPACE`` releases it (the data stays in
the image, mounted again next time).

Weaker form (not root, or a workspace that already holds files): the usage is
measured inside the sandbox after each command (``du``, never by walking the
tree on the host), so a single command can overshoot before it is noticed.

Either way an agent at its limit is paused with a ``disk`` interrupt.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sandboxes.base import SandboxError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
#: At or above this share of the limit the agent is paused (ext4 keeps a little back).
FULL_AT = 0.97
#: ... or when less than this is left (small limits).
SLACK = 2 << 20


def parse_size(text: str | int) -> int:
    """``2g``, ``512m``, ``1.5G``, ``4096`` (bytes) -> bytes; SandboxError if it is not a size."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise SandboxError(f"disk size {text!r} is not a size; write e.g. 2g or 512m")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def describe(size: int) -> str:
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            return f"{size / unit:.1f} {name}"
    return f"{size} B"


def image_path(workspace: Path) -> Path:
    return workspace.parent / f".{workspace.name}.agentorch-disk.ext4"


def _empty(workspace: Path) -> bool:
    try:
        with os.scandir(workspace) as entries:
            return next(entries, None) is None
    except FileNotFoundError:
        return True


def mount_limited(workspace: Path, limit: int, uid: int, gid: int) -> bool:
    """Put ``workspace`` on its own file system of ``limit`` bytes; False where we cannot
    (not root, no mkfs.ext4/mount, or a workspace that already holds other files)."""
    mkfs, mount = _tool("mkfs.ext4"), _tool("mount")
    if os.geteuid() != 0 or not (mkfs and mount):
        return False
    workspace.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(workspace):
        return True  # ours, from an earlier start of this run
    image = image_path(workspace)
    if not image.exists():
        if not _empty(workspace):
            return False
        fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.ftruncate(fd, limit)  # sparse: takes disk space only as the agent writes
        finally:
            os.close(fd)
        _run([mkfs, "-q", "-F", "-m", "0", "-E", f"root_owner={uid}:{gid}", str(image)])
    elif not _empty(workspace):
        return False
    _run([mount, "-o", "loop,nosuid,nodev,noatime", str(image), str(workspace)])
    return True


def _tool(name: str) -> str | None:
    """System tools live in sbin, which a user's PATH often lacks."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    return shutil.which(name, path=path)


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise SandboxError(f"could not set up the workspace size limit ({os.path.basename(argv[0])}: "
                           f"{proc.stderr.strip()[-200:]}); free loop devices or remove resources.disk")


def mounted_usage(workspace: Path) -> tuple[int, int]:
    """(used, size) bytes of a workspace's own file system (statvfs of our mount point)."""
    st = os.statvfs(workspace)
    size = st.f_blocks * st.f_frsize
    return size - st.f_bfree * st.f_frsize, size


def full_message(agent_id: str, used: int, limit: int, capacity: int | None = None) -> str | None:
    """The pause reason once ``used`` reaches the limit (or the file system's own capacity,
    a little under the limit: ext4 keeps its metadata in it)."""
    room = capacity or limit
    if used < room - max(room * (1 - FULL_AT), SLACK):
        return None
    return (f"{agent_id}'s workspace is full: {describe(used)} used of its {describe(limit)} "
            "limit (resources.disk). Free space in it (or raise the limit) and approve to go on, "
            "or reject to stop the agent.")
