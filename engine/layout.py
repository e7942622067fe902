"""Where a team's files live: config out of every agent's reach, no two agents overlapping.

A workspace is the agent's: whatever it contains, the agent can rewrite (or swap for a
symlink).  So no workspace may contain the team file, a rules or memory file or the
database (with its folder, which holds the WAL files), no workspace may contain another,
and no memory file may be a file the engine reads as configuration.  Paths are
compared as real paths (symlinks resolved), so a symlinked spelling changes nothing;
a file must also stay out of workspaces as written, since a symlink on its way that
lies in a workspace could be repointed by that agent.
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


def spellings(path: Path | str) -> tuple[Path, ...]:
    """The path as written (absolute) and as resolved: a symlink on the way that sits in a
    workspace could be repointed by its agent, so both must stay out of every workspace."""
    return tuple(dict.fromkeys((Path(os.path.abspath(path)), real(path))))


@dataclass(frozen=True)
class _File:
    path: Path  # resolved
    what: str  # e.g. "the memory_file of agent 'a'"
    loc: tuple[str | int, ...]
    ways: tuple[Path, ...] = ()  # every spelling (see :func:`spellings`)

    def inside(self, ws: Path) -> Path | None:
        """The spelling of this file that lies in workspace ``ws``, if any."""
        return next((p for p in self.ways or (self.path,) if contains(ws, p)), None)


def layout_problems(team: TeamConfig, team_file: Path, db: Path) -> list[LayoutProblem]:
    """Every overlap between workspaces, agents' files, the team file and the database."""
    problems: list[LayoutProblem] = []
    db_dir = Path(os.path.abspath(db)).parent
    guarded = [_File(real(team_file), f"the team file {real(team_file)}", (), spellings(team_file)),
               _File(real(db), f"the database {real(db)}", (), spellings(db)),
               _File(real(db_dir), f"the database's folder {real(db_dir)}", (), spellings(db_dir))]
    files: list[_File] = []
    for i, agent in enumerate(team.agents):
        for field in ("rules_file", "memory_file"):
            rel = getattr(agent, field)
            if rel:
                path = team.resolve(rel) or Path(rel)
                files.append(_File(real(path), f"the {field} of agent {agent.id!r}",
                                   ("agents", i, field), spellings(path)))
    workspaces = [(i, a.id, real(team.workspace_of(a))) for i, a in enumerate(team.agents)]
    for i, agent_id, ws in workspaces:
        loc = ("agents", i, "sandbox_path")
        for g in guarded:
            if g.inside(ws) is not None:
                problems.append((loc, f"the workspace {ws} contains {g.what}, which the agent could "
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
            where = f.inside(ws)
            if where is not None:
                problems.append((f.loc, f"{where} is inside agent {agent_id!r}'s workspace {ws}, "
                                        "where that agent could rewrite it; keep rules and memory "
                                        "files outside every workspace"))
    problems += _file_problems(files, guarded[:2])
    return problems


def _file_problems(files: list[_File], guarded: list[_File]) -> list[LayoutProblem]:
    problems: list[LayoutProblem] = []
    for n, f in enumerate(files):
        for g in guarded:
            if f.path == g.path:
                problems.append((f.loc, f"is {g.what}; use a file of its own"))
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
