"""A clone of `repo:` never fills a disk silently.

Before any agent's clone is made, its size is known from the engine's repository
(sandboxes/workspaces/clone_size.py) and held against:

- each agent's limit: its `resources.disk` (the workspace's size limit), or the team's
  `clone_limit:` (default 2g), whichever is smaller;
- the free space where the clones go (every agent's clone at once, plus a margin for the
  database beside them).

Over either, the run does not start and one sentence names the size, the limit and what
to change.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sandboxes.base import SandboxError
from sandboxes.workspace_disk import describe, mount_limited, parse_size
from sandboxes.workspaces.clone_size import CloneSize, clone_size

if TYPE_CHECKING:
    from engine.config import AgentConfig, TeamConfig
    from engine.workspaces import Workspaces

#: room left on the disk after the clones (the database and console output live there)
MARGIN = 64 << 20


def check_clones(ws: Workspaces, base_commit: str, todo: list[tuple[AgentConfig, Path]]) -> bool:
    """SandboxError in one sentence when a clone of ``base_commit`` would be over an agent's
    limit, or the clones (one per workspace in ``todo``) would not fit on their disk.
    Returns whether the base keeps files in Git LFS (they arrive as pointer files)."""
    if not todo:
        return False
    size = clone_size(ws.repo, base_commit)
    where = f"{ws.user_repo} ({ws.branch})"
    problem = (limit_problem(ws.engine.team, [a for a, _ in todo], size, where)
               or space_problem([w for _, w in todo], size, where))
    if problem is not None:
        raise SandboxError(problem)
    return size.lfs


def limited_mount(team: TeamConfig, agent: AgentConfig, workspace: Path, uid: int) -> None:
    """With `resources.disk` (as root, Docker on this machine) the clone is made inside
    the workspace's own file system of that size (sandboxes/workspace_disk.py), so the
    kernel holds it to the limit from its first byte."""
    disk = team.resource_of(agent, "disk", None)
    if not disk or not mount_limited(workspace, parse_size(disk), uid, uid):
        return
    with contextlib.suppress(OSError):  # mkfs's own folder: the clone needs an empty one
        os.rmdir(workspace / "lost+found")


def agent_limit(team: TeamConfig, agent: AgentConfig) -> tuple[int, str] | None:
    """The largest clone ``agent`` may get and where that limit is set, or None."""
    limits = []
    disk = team.resource_of(agent, "disk", None)
    if disk:
        limits.append((parse_size(disk), f"{agent.id}'s `resources.disk`"))
    if team.clone_limit:
        limits.append((parse_size(team.clone_limit), "the team's `clone_limit`"))
    return min(limits) if limits else None


def _sizes(size: CloneSize) -> str:
    return (f"{size.files} files, {describe(size.content)} checked out, up to "
            f"{describe(size.history)} of history")


def limit_problem(team: TeamConfig, agents: list[AgentConfig], size: CloneSize,
                  where: str) -> str | None:
    """Why an agent's clone would be over its limit (``where``: the repository and branch)."""
    for agent in agents:
        limit = agent_limit(team, agent)
        if limit is not None and size.on_disk > limit[0]:
            return (f"the clone of {where} would take about {describe(size.on_disk)} on disk "
                    f"({_sizes(size)}), over {limit[1]} of {describe(limit[0])}; raise that "
                    "limit, or set `base:` to a smaller branch or `repo:` to a smaller repository")
    return None


def space_problem(places: list[Path], size: CloneSize, where: str) -> str | None:
    """Why the clones (one per folder in ``places``) would not fit on their disks."""
    need: dict[int, tuple[Path, int]] = {}
    for place in places:
        anchor = _existing(place)
        dev = os.stat(anchor).st_dev
        held = need.get(dev, (anchor, 0))[1]
        need[dev] = (anchor, held + size.on_disk)
    for anchor, total in need.values():
        st = os.statvfs(anchor)
        free = st.f_bavail * st.f_frsize
        if total + MARGIN > free:
            count = total // max(size.on_disk, 1)
            return (f"cloning {where} for {count} agent(s) needs about {describe(total)} "
                    f"({describe(size.on_disk)} each: {_sizes(size)}) and only {describe(free)} "
                    f"is free on the disk of {anchor}; free some space there, or run fewer "
                    "agents on this repository")
    return None


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
