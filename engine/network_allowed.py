"""Hosts the person allowed "always": project state beside the database, never the YAML.

``.agentorch/network-allowed.json`` (the database's folder, which no workspace may
contain) maps team name -> agent id -> `host:port` entries.  Rewriting the user's team
file would lose their comments and change the configuration a resumed run checks, so
the answer lives here; `check` lists it and every later run of the team honours it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from engine.config import NetworkRules, TeamConfig
from sandboxes.network.policy import pattern_problem

FILE_NAME = "network-allowed.json"


def allowed_file(db: Path | str) -> Path:
    return Path(os.path.abspath(db)).parent / FILE_NAME


def load_allowed(db: Path | str, team: str) -> dict[str, list[str]]:
    """agent id -> allowed `host:port` entries of ``team`` (empty when there is no file or
    it cannot be read: an unreadable file never allows anything)."""
    try:
        data = json.loads(allowed_file(db).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    agents = data.get("teams", {}).get(team, {}) if isinstance(data, dict) else {}
    if not isinstance(agents, dict):
        return {}
    return {str(a): [h for h in hosts if isinstance(h, str) and pattern_problem(h) is None]
            for a, hosts in agents.items() if isinstance(hosts, list)}


def add_allowed(db: Path | str, team: str, agent: str, entry: str) -> None:
    """Record ``entry`` for ``agent`` (atomically: a crash leaves the old file or the new)."""
    path = allowed_file(db)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("teams"), dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data.setdefault("version", 1)
    hosts = data.setdefault("teams", {}).setdefault(team, {}).setdefault(agent, [])
    if entry in hosts:
        return
    hosts.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".network-allowed-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def rules_lines(team: TeamConfig) -> list[str]:
    """What `check` prints about the agents' network settings (none is the default)."""
    lines: list[str] = []
    rules = [(a.id, r) for a in team.agents if isinstance(r := team.network_of(a), NetworkRules)]
    if rules:
        lines.append("  network through the run's proxy:")
        for agent_id, r in rules:
            text = f"allow {', '.join(r.allow) or '(nothing)'}"
            text += f"; deny {', '.join(r.deny)}" if r.deny else ""
            text += f"; others ask you (denied after {r.hold_timeout:g} s)" if r.ask else "; others refused"
            lines.append(f"    {agent_id:<14} {text}")
    open_ = [a.id for a in team.agents if team.network_of(a) == "unrestricted"]
    if open_:
        lines.append(f"  UNRESTRICTED network (nothing filtered): {', '.join(open_)}")
    return lines


def allowed_lines(db: Path | str, team: str) -> list[str]:
    """What `check` prints about the always-allowed hosts of ``team``."""
    allowed = load_allowed(db, team)
    if not allowed:
        return []
    lines = [f"  always allowed (answers recorded in {allowed_file(db)}):"]
    lines += [f"    {agent:<14} {', '.join(hosts)}" for agent, hosts in sorted(allowed.items()) if hosts]
    return lines
