"""Loading agents.yaml: YAML -> defaults merged -> pydantic -> team-level checks.

Every problem becomes a :class:`ConfigProblem` with the file, the line and the
field, so ``agentorch-tui check`` can print ``FILE:LINE: field: what is wrong``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.config import ALL, AgentConfig, TeamConfig, cli_problems
from engine.layout import layout_problems
from engine.pricing import price_problems
from engine.tools import TOOL_SPECS, check_args
from engine.workflow.checks import workflow_problems
from memory.files import read_memory, read_rules
from memory.store import DEFAULT_DB
from sandboxes.base import SandboxError


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _LineMap:
    """Maps a path of keys/indexes in the YAML document to a line number (1-based)."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.root = node

    def line(self, loc: tuple[Any, ...]) -> int:
        node = self.root
        best = node.start_mark.line + 1 if node is not None else 1
        for key in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == key:
                        best = k.start_mark.line + 1
                        child = v
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                if 0 <= key < len(node.value):
                    child = node.value[key]
                    best = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return best


#: libyaml's loader where PyYAML was built with it (10-20x faster on big teams)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str) -> tuple[Any, Any]:
    """One pass over the text: the node tree (for line numbers) and the data built from it."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(file)"


def load_team(path: str | Path, base_dir: Path | None = None,
              db: str | Path | None = None, check_repo: bool = True,
              start_checks: bool = False) -> TeamConfig:
    """Load and validate a team file, raising ConfigError with every problem found.

    Relative paths in the file resolve against ``base_dir`` (default: the file's folder).
    ``db`` is the state database (default .agentorch/state.db): no workspace may hold it.
    ``check_repo`` False: `repo:`/`base:` are not looked up (a resumed run keeps the
    branch and base it recorded, whatever became of them since).
    ``start_checks`` (for `check`): also what a start would refuse (engine/check_start.py).
    """
    path = Path(path)
    name = str(path)

    def fail(message: str, line: int = 1, field: str = "(file)") -> ConfigError:
        return ConfigError([ConfigProblem(name, line, field, message)])

    if not path.exists():
        raise fail("file not found; pass the path of a team file such as agents.yaml")
    if path.is_dir():
        raise fail("is a directory, not a team file; pass the path of a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the file ({exc})") from None
    try:
        node, data = _parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise fail(f"invalid YAML: {problem}", line) from None
    if data is None:
        raise fail("the file is empty; a team needs at least `agents:` with one agent")
    if not isinstance(data, dict):
        raise fail(f"expected a mapping with `agents:` at the top, got {type(data).__name__}")
    lines = _LineMap(node)
    merged = _merge_defaults(data)
    try:
        base = base_dir if base_dir is not None else path.resolve().parent
        team = TeamConfig.model_validate({**merged, "base_dir": base})
    except ValidationError as exc:
        schema = _validation_problems(exc, name, lines)
        salvaged = _salvage({**merged, "base_dir": base}, exc)
        if salvaged is None:
            raise ConfigError(schema) from None
        team, seen = salvaged, {p.line for p in schema}  # the rest of the checks, too
        more = [replace(p, message=_STAND_IN.sub("", p.message))  # never name a stand-in
                for p in _team_problems(team, name, lines) + _price_problems(team, name, lines)
                if p.line not in seen]
        raise ConfigError(sorted(schema + more, key=lambda p: p.line)) from None
    problems = _team_problems(team, name, lines) + _price_problems(team, name, lines)
    if team.repo is not None and check_repo:
        from sandboxes.workspaces.repo import repo_problem

        problem = repo_problem(team.resolve(team.repo) or Path(team.repo), team.base)
        if problem:
            field = "base" if team.base and "branch" in problem else "repo"
            problems.append(ConfigProblem(name, lines.line((field,)), field, problem))
    for loc, message in layout_problems(team, path, Path(db or DEFAULT_DB)):
        line = lines.line(loc if _own_field(data, loc) else ("defaults", loc[-1]))
        problems.append(ConfigProblem(name, line, _field_name(loc), message))
    if start_checks:
        from engine.check_start import start_problems

        for loc, message in start_problems(team, db or DEFAULT_DB):
            problems.append(ConfigProblem(name, lines.line(loc), _field_name(loc), message))
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line))
    return team


_STAND_IN = re.compile(r"invalid-agent-\d+, |(, )?invalid-agent-\d+")


def _salvage(data: dict[str, Any], exc: ValidationError, rounds: int = 4) -> TeamConfig | None:
    """The team without the fields the schema refused (a bad id replaced), so that the
    other checks (references, files, script arguments) run in the same pass; None when
    nothing valid is left."""
    import copy

    data = copy.deepcopy(data)
    for _ in range(rounds):
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p))]
            _drop(data, loc)
        try:
            return TeamConfig.model_validate(data)
        except ValidationError as again:
            exc = again
    return None


def _drop(data: Any, loc: list[Any]) -> None:
    """Remove the value at ``loc`` (an agent's bad id becomes a placeholder, a bad
    script step a harmless one, so indexes and line numbers stay as in the file)."""
    parent, key = data, None
    for depth, part in enumerate(loc[:-1]):
        try:
            child = parent[part]
        except (KeyError, IndexError, TypeError):
            return
        if not isinstance(child, dict | list):  # a shorthand (`schedule: "..."`): drop it whole
            _drop(data, loc[: depth + 1])
            return
        parent = child
    key = loc[-1] if loc else None
    if len(loc) == 3 and loc[0] == "agents" and key == "id" and isinstance(parent, dict):
        parent["id"] = f"invalid-agent-{loc[1] + 1}"
    elif len(loc) >= 4 and loc[2] == "script" and isinstance(loc[3], int):
        steps = data["agents"][loc[1]].get("script")
        if isinstance(steps, list) and loc[3] < len(steps):
            steps[loc[3]] = {"tool": "report_progress", "args": {"text": "-"}}
    elif isinstance(parent, dict) and key in parent:
        del parent[key]
    elif isinstance(parent, dict) and len(loc) > 3:  # a required field of an agent's
        _drop(data, loc[:-1])  # mapping (`schedule: {overlap: skip}`): drop the mapping
    elif isinstance(parent, list) and isinstance(key, int) and key < len(parent):
        if loc[0] == "agents" and len(loc) == 2:  # not an agent at all: a stand-in
            parent[key] = {"id": f"invalid-agent-{key + 1}", "model": "scripted", "script": []}
        else:
            del parent[key]


def _own_field(data: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """False for an agent's field that came from `defaults` (its line is there)."""
    agents = data.get("agents")
    if len(loc) != 3 or not isinstance(agents, list) or not isinstance(data.get("defaults"), dict):
        return True
    agent = agents[loc[1]] if loc[1] < len(agents) else None
    return not isinstance(agent, dict) or loc[2] in agent or loc[2] not in data["defaults"]


_UNION_TAG = re.compile(r"^(str|int|float|bool|none|[a-z-]+\[.*\]|NetworkRules)$")


def _validation_problems(exc: ValidationError, name: str, lines: _LineMap) -> list[ConfigProblem]:
    """One problem per field: the branches of a union (`plan` or `[plan, risky]`) merged."""
    grouped: dict[tuple, list[str]] = {}
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _UNION_TAG.match(p)))
        msg = _message(err)
        if msg not in grouped.setdefault(loc, []):
            grouped[loc].append(msg)
    problems = []
    for loc, msgs in grouped.items():
        if any(other[: len(loc)] == loc and len(other) > len(loc) for other in grouped):
            continue  # a union branch that got further explains it better (`[plan, x]`)
        if len(msgs) > 1 and "Input should be a valid list" in msgs:
            msgs = [m for m in msgs if m != "Input should be a valid list"]
            msgs[-1] += " (or a list of them)"
        problems.append(ConfigProblem(name, lines.line(loc), _field_name(loc), "; or ".join(msgs)))
    return problems


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field; remove it or check its spelling (`agentorch-tui schema` lists fields)"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "string_pattern_mismatch" and err["loc"] and err["loc"][-1] in PATTERN_WORDS:
        return PATTERN_WORDS[err["loc"][-1]]
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


#: what a field's pattern means, in words (instead of the regular expression)
PATTERN_WORDS = {
    "id": "an id must start with a letter and use only letters, digits, `-` or `_`, "
          "at most 40 characters (e.g. `coder` or `test-runner`)",
    "base": "a branch name without spaces or any of ~ ^ : ? * [ \\",
    "disk": "a size such as 512M, 10G or 1.5GiB",
}


def _merge_defaults(data: dict[str, Any]) -> dict[str, Any]:
    defaults = data.get("defaults")
    agents = data.get("agents")
    if not isinstance(defaults, dict) or not isinstance(agents, list):
        return data
    merged_agents = []
    for agent in agents:
        if isinstance(agent, dict):
            merged = {k: v for k, v in defaults.items() if k not in agent}
            merged.update(agent)
            merged_agents.append(merged)
        else:
            merged_agents.append(agent)
    return {**data, "agents": merged_agents}


def _team_problems(team: TeamConfig, name: str, lines: _LineMap) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    ids = team.agent_ids

    def add(i: int, field: str, message: str) -> None:
        loc = ("agents", i, field) if field else ("agents", i)
        problems.append(ConfigProblem(name, lines.line(loc), _field_name(loc), message))

    seen: dict[str, int] = {}
    for i, agent in enumerate(team.agents):
        if agent.id in seen:
            add(i, "id", f"duplicate agent id {agent.id!r} (also agent #{seen[agent.id] + 1})")
        seen.setdefault(agent.id, i)
        if agent.secrets and isinstance(team.network_of(agent), str):
            add(i, "secrets", "secrets are added by the run's egress proxy, which this agent does "
                              "not use; give it `network: {allow: [...]}` listing the secrets' hosts")
        dc = agent.direct_communication
        if isinstance(dc, list):
            for other in dc:
                if other == "user":
                    add(i, "direct_communication",
                        "`user` is the person, not an agent: agents reach the person with "
                        "ask_user, report_progress or request_debug, and may reply once to each "
                        "of the person's messages; remove `user` from this list")
                elif other != ALL and other not in ids:
                    add(i, "direct_communication",
                        f"unknown agent {other!r}; known agents: {', '.join(ids)}")
                elif other == ALL:
                    add(i, "direct_communication",
                        "write `direct_communication: all`, not a list containing all")
        if agent.rules_file:
            rules = team.resolve(agent.rules_file)
            if rules is None or not rules.exists():
                add(i, "rules_file", f"file {agent.rules_file!r} does not exist "
                    f"(paths are relative to {team.base_dir})")
            else:
                try:
                    read_rules(rules)
                except (SandboxError, OSError) as exc:
                    add(i, "rules_file", f"cannot be read: {exc}")
        if agent.memory_file:
            try:
                read_memory(team.resolve(agent.memory_file))
            except (SandboxError, OSError) as exc:
                add(i, "memory_file", f"cannot be read: {exc}")
        for field, problem in cli_problems(agent):
            add(i, field, problem)
        if agent.is_scripted and agent.script is None:
            add(i, "script", "a scripted agent needs a `script` (a list of tool steps)")
        if not agent.is_scripted and agent.script is not None:
            add(i, "script", f"`script` only applies to `model: scripted`, not {agent.model!r}")
        for step_no, step in enumerate(agent.script or []):
            problem = check_args(TOOL_SPECS[step.tool], step.args)
            if problem:
                loc = ("agents", i, "script", step_no, "args")
                problems.append(ConfigProblem(name, lines.line(loc), _field_name(loc), problem))
        if agent.script and agent.tools is not None:
            for step_no, step in enumerate(agent.script):
                if step.tool not in agent.tools:
                    loc = ("agents", i, "script", step_no, "tool")
                    problems.append(ConfigProblem(
                        name, lines.line(loc), _field_name(loc),
                        f"tool {step.tool!r} is not in this agent's `tools` list"))
    from engine.schedules.checks import schedule_problems

    for i, field, message in schedule_problems(team):
        if i < 0:  # the team's own field
            loc = tuple(field.split("."))
            problems.append(ConfigProblem(name, lines.line(loc), field, message))
        else:
            add(i, field, message)
    for loc, message in workflow_problems(team):
        problems.append(ConfigProblem(name, lines.line(loc), _field_name(loc), message))
    return problems


def _price_problems(team: TeamConfig, name: str, lines: _LineMap) -> list[ConfigProblem]:
    return [ConfigProblem(name, lines.line(("agents", i, "model")), f"agents[{i}].model", msg)
            for i, msg in price_problems(team)]


def summary(team: TeamConfig, path: str, backend: str | None = None) -> str:
    """A short human summary of the team, as printed by ``agentorch-tui check``."""
    out = [f"{path}: team {team.name!r}, {len(team.agents)} agents, "
           f"sandbox backend {backend or team.sandbox.backend}"]
    for a in team.agents:
        talks = team.recipients_of(a)
        model = a.model or "scripted"
        out.append(f"  {a.id:<14} {a.type or '-':<10} {model:<18} approval={a.approval_text:<11} "
                   f"-> {', '.join(talks) if talks else '(nobody)'}")
        if a.schedule is not None:
            from engine.schedules.spec import describe

            times = a.schedule.times()
            out.append(f"  {'':<14} scheduled: {describe(a.schedule.cron)} ({a.schedule.cron}, "
                       f"{times.zone_name}; overlap {a.schedule.overlap}, missed {a.schedule.missed})")
    return "\n".join(out)


__all__ = ["AgentConfig", "ConfigError", "ConfigProblem", "TeamConfig", "load_team", "summary"]
