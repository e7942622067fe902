"""What `agentorch-tui check` reports that a start would refuse, before anything starts.

Judged from the team file, DOCKER_HOST and the user's repository, never by contacting a
Docker daemon: the refusals of a daemon on another machine (engine/remote_docker.py)
and a clone of `repo:` over an agent's limit (engine/clone_limits.py).  Each is one
sentence, the same a start would give.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.clone_limits import limit_problem
from engine.config import NetworkRules
from engine.remote_docker import agent_remote_problem
from engine.workspaces import state_dir_of
from sandboxes.docker_client import daemon_is_remote
from sandboxes.workspaces.clone_size import clone_size
from sandboxes.workspaces.git import GitError
from sandboxes.workspaces.repo import EngineRepo, branch_commit, resolve_base

if TYPE_CHECKING:
    from engine.config import TeamConfig

Problem = tuple[tuple[Any, ...], str]  # where in the file (as for a schema error), what


def start_problems(team: TeamConfig, db: str | Path) -> list[Problem]:
    return remote_problems(team) + clone_problems(team, db)


def remote_problems(team: TeamConfig) -> list[Problem]:
    """Agents in containers that a remote daemon cannot run (`auto` counts as a container:
    on a daemon that answers, it is one)."""
    if not daemon_is_remote(team.sandbox.remote):
        return []
    problems: list[Problem] = []
    for index, agent in enumerate(team.agents):
        if (agent.backend or team.sandbox.backend) == "local":
            continue
        problem = agent_remote_problem(team, agent)
        if problem is not None:
            field = "network" if isinstance(team.network_of(agent), NetworkRules) else "brain"
            problems.append((("agents", index, field), problem))
    return problems


def clone_problems(team: TeamConfig, db: str | Path) -> list[Problem]:
    """A clone of `repo:` over an agent's limit, sized as a start sizes it: from the
    engine's repository once it holds the base commit, else from the user's own (whose
    object store holds at least what the engine would fetch)."""
    if team.repo is None:
        return []
    user_repo = (team.resolve(team.repo) or Path(team.repo)).resolve()
    try:
        git_dir, branch = resolve_base(user_repo, team.base)
        commit = branch_commit(git_dir, branch)
        if commit is None:
            return []
        engine_repo = EngineRepo.for_project(state_dir_of(db), user_repo)
        known = (engine_repo.git_dir / "HEAD").exists() and engine_repo.ref(commit) is not None
        size = clone_size(engine_repo if known else EngineRepo(git_dir), commit)
    except GitError:
        return []  # the loader already said what is wrong with `repo:`/`base:`
    problem = limit_problem(team, list(team.agents), size, f"{user_repo} ({branch})")
    return [(("repo",), problem)] if problem is not None else []
