"""A Docker daemon on another machine (`sandbox.remote: true`, or by default whenever
DOCKER_HOST is `tcp://`, `ssh://` or `https://`).

Nothing of this machine can be bound into such a daemon's containers.  So each agent's
workspace is a volume on the daemon (sandboxes/remote_workspace.py), its clone of
`repo:` is made here in the engine's area and shipped in as data, and checkpoints,
rollback and QA copies travel through the archive API and the exec session.  What needs
a bind mount is refused before anything starts, in one sentence saying what to change:
network rules (the proxy's socket) and CLI agents (their settings and model socket).
The agents' MCP sockets are not bound in either (only CLI agents need them).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from engine.config import NetworkRules
from sandboxes.docker_client import daemon_is_remote

if TYPE_CHECKING:
    from engine.config import AgentConfig, TeamConfig
    from engine.run import Engine


def remote_daemon(engine: Engine) -> bool:
    """Whether this run's Docker daemon is on another machine."""
    return daemon_is_remote(engine.team.sandbox.remote)


def is_remote(engine: Engine, agent_id: str) -> bool:
    """The agent's sandbox is a container on a remote daemon."""
    return engine.backends.get(agent_id) == "docker" and engine.remote_docker


def _where() -> str:
    host = os.environ.get("DOCKER_HOST", "").strip()
    return f"the Docker daemon at {host}" if host else "a remote Docker daemon (sandbox.remote: true)"


def remote_problem(engine: Engine) -> str | None:
    """What keeps this team from running on a remote daemon, in one sentence; or None."""
    if not engine.remote_docker:
        return None
    for agent in engine.team.agents:
        if engine.backends.get(agent.id) == "docker":
            problem = agent_remote_problem(engine.team, agent)
            if problem is not None:
                return problem
    return None


def agent_remote_problem(team: TeamConfig, agent: AgentConfig) -> str | None:
    """What keeps ``agent`` (in a container) from running on a remote daemon, or None.
    Also judged by `check` and for an agent the workflow creates at run time."""
    fix_local = ("or set `sandbox: {remote: false}` if the daemon is in fact on this machine")
    if isinstance(team.network_of(agent), NetworkRules):
        return (f"agent {agent.id}'s network rules (`network: {{allow, deny}}`) need the Docker "
                f"daemon on this machine, and {_where()} is not (the proxy's socket is bound "
                "into each container); use `network: none` or `unrestricted` for it, "
                + fix_local)
    if agent.is_cli:
        return (f"agent {agent.id} (brain: {agent.brain}) needs its settings and model socket "
                f"bound into its container, which {_where()} cannot do; give it "
                "`backend: local`, or use a Docker daemon on this machine, " + fix_local)
    return None


def remote_notice(engine: Engine) -> str | None:
    """What a person should know about a run on a remote daemon (said once at start)."""
    if not engine.remote_docker:
        return None
    team = engine.team
    agents = [a for a in team.agents if engine.backends.get(a.id) == "docker"]
    if not agents:
        return None
    host = os.environ.get("DOCKER_HOST", "").strip()
    daemon = f"Docker daemon at {host}" if host else "Docker daemon treated as remote (sandbox.remote)"
    text = (f"{daemon}: each agent's workspace is a volume there "
            f"(agentorch-ws-{engine.run_id}-AGENT) and nothing of this machine is bound in")
    if team.repo is None:
        text += ("; without `repo:` their files stay there (`docker cp` reaches them); with "
                 "`repo:` their work comes back as branches (diff, merge)")
    own = [a.id for a in agents if a.sandbox_path]
    if own:
        text += f"; the sandbox_path of {', '.join(own)} on this machine is not used"
    return text
