"""Where a team's files live: config out of every agent's reach, no two agents overlapping.

A workspace is the agent's: whatever it contains, the agent can rewrite (or swap for a
symlink).  So no workspace may contain the team file, a rules or memory file or the
database (with its folder, which holds the WAL files), no workspace may contain another,
and no memory file may be a file the engine reads as configuration.  Paths are
compared as real paths (symlinks resolved), so a symlinked spelling changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.config import TeamConfig

#: (location in the YAML document, message)
LayoutProblem = tuple[tuple[str | int, ...], str]


def real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def contains(outer: Path, inner: Path) -> bool:
    """``inner`` is ``outer`` or lies below it (string prefix on real paths: a team of
    hundreds of agents compares every pair, and ``Path.parents`` is ~50x slower)."""
    o, i = str(outer), str(inner)
    return i == o or i.startswith(o if o.endswith("/") else o + "/")


@dataclass(frozen=True)
class _File:
    path: Path
    what: str  # e.g. "the memory_file of agent 'a'"
    loc: tuple[str | int, ...]


def layout_problems(team: TeamConfig, team_file: Path, db: Path) -> list[LayoutProblem]:
    """Every overlap between workspaces, agents' files, the team file and the database."""
    problems: list[LayoutProblem] = []
    team_file, db = real(team_file), real(db)
    guarded = [(team_file, f"the team file {team_file}"), (db, f"the database {db}"),
               (db.parent, f"the database's folder {db.parent}")]
    files: list[_File] = []
    for i, agent in enumerate(team.agents):
        for field in ("rules_file", "memory_file"):
            rel = getattr(agent, field)
            if rel:
                files.append(_File(real(team.resolve(rel) or rel), f"the {field} of agent {agent.id!r}",
                                   ("agents", i, field)))
    workspaces = [(i, a.id, real(team.workspace_of(a))) for i, a in enumerate(team.agents)]
    for i, agent_id, ws in workspaces:
        loc = ("agents", i, "sandbox_path")
        for path, what in guarded:
            if contains(ws, path):
                problems.append((loc, f"the workspace {ws} contains {what}, which the agent could "
                                      "then rewrite; use a folder of its own, e.g. "
                                      f"workspaces/{agent_id}"))
                break
        for _, other_id, other in workspaces[:i]:
            if other == ws:
                problems.append((loc, f"same sandbox_path as agent {other_id!r}; each agent "
                                      "needs its own"))
            elif contains(other, ws) or contains(ws, other):
                inner, outer = (agent_id, other_id) if contains(other, ws) else (other_id, agent_id)
                problems.append((loc, f"the workspaces of {agent_id!r} and {other_id!r} overlap "
                                      f"({inner!r}'s is inside {outer!r}'s); give each agent a "
                                      "separate folder"))
        for f in files:
            if contains(ws, f.path):
                problems.append((f.loc, f"{f.path} is inside agent {agent_id!r}'s workspace {ws}, "
                                        "where that agent could rewrite it; keep rules and memory "
                                        "files outside every workspace"))
    problems += _file_problems(files, guarded[:2])
    return problems


def _file_problems(files: list[_File], guarded: list[tuple[Path, str]]) -> list[LayoutProblem]:
    problems: list[LayoutProblem] = []
    for n, f in enumerate(files):
        for path, what in guarded:
            if f.path == path:
                problems.append((f.loc, f"is {what}; use a file of its own"))
        for earlier in files[:n]:
            if earlier.path != f.path:
                continue
            if f.loc[-1] == "memory_file" or earlier.loc[-1] == "memory_file":
                problems.append((f.loc, f"{f.path} is also {earlier.what}: update_memory would "
                                        "write into it; give each agent its own memory file"))
            else:
                problems.append((f.loc, f"{f.path} is also {earlier.what}; give each agent its "
                                        "own rules file"))
    return problems


__all__ = ["contains", "layout_problems", "real"]
