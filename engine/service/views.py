"""Read-only views of a running engine for clients in other processes.

`state`: the run as it is now (status, each agent's status and sandbox, the team's
configuration as the run uses it, where the engine keeps the agents' git work when the
team has `repo:`); `memory`: one agent's memory file as it reads it.
The event stream (`subscribe`) carries everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.service.commands import Command, command

if TYPE_CHECKING:
    from engine.run import Engine


@command("state")
async def _state(engine: Engine, cmd: Command) -> dict[str, Any]:
    agents = {agent_id: {"status": rt.status, "sandbox": rt.sandbox.label,
                         "backend": engine.backends.get(agent_id, "")}
              for agent_id, rt in engine.agents.items()}
    ws = engine.workspaces
    workspaces = None if ws is None else {"git_dir": str(ws.repo.git_dir), "branch": ws.branch}
    return {"run_id": engine.run_id, "team": engine.team.name, "status": engine.status,
            "last_seq": engine.seq, "agents": agents, "workspaces": workspaces,
            "team_config": engine.team.model_dump(mode="json")}


@command("memory")
async def _memory(engine: Engine, cmd: Command) -> dict[str, Any]:
    return {"agent": (agent := cmd.need("agent")),
            "text": engine._agent(agent).memory_text}
