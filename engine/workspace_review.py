"""Which agents' work still waits for the person: merged or discarded work is marked
with a ref in the engine's repository (``refs/agentorch/reviewed/<run>/<agent>``, the
checkpoint that was merged or discarded), so the TUI, the CLI and `clean` agree on it
whether the merge happened during the run or afterwards from the command line.

Registers the `discard` control command: `{"type":"discard","agent":ID}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import events as ev
from engine.recording import ControlError
from engine.service.commands import Command, command
from sandboxes.workspaces.repo import EngineRepo, base_ref, checkpoint_ref

if TYPE_CHECKING:
    from engine.run import Engine


def reviewed_ref(run_id: str, agent_id: str) -> str:
    return f"refs/agentorch/reviewed/{run_id}/{agent_id}"


def mark_reviewed(repo: EngineRepo, run_id: str, agent_id: str, commit: str) -> None:
    repo.set_ref(reviewed_ref(run_id, agent_id), commit)


def has_unmerged(repo: EngineRepo, run_id: str, agent_id: str) -> bool:
    """The agent changed something since its base that was neither merged nor discarded."""
    head = repo.ref(checkpoint_ref(run_id, agent_id))
    if head is None or head == repo.ref(base_ref(run_id, agent_id)):
        return False
    return head != repo.ref(reviewed_ref(run_id, agent_id))


def unmerged_agents(repo: EngineRepo, run_id: str, agent_ids: list[str]) -> list[str]:
    if not (repo.git_dir / "HEAD").exists():
        return []
    return [a for a in agent_ids if has_unmerged(repo, run_id, a)]


@command("discard")
async def _discard(engine: Engine, cmd: Command) -> str:
    """The agent's work so far is not wanted: it no longer counts as unmerged (for `runs`
    and `clean`); its checkpoints stay, so it can still be merged or rolled back to."""
    import asyncio

    if engine.workspaces is None:
        raise ControlError("discard needs a team with `repo:` (agents work on a clone of it)")
    agent = cmd.need("agent")
    engine._agent(agent)
    repo, run_id = engine.workspaces.repo, engine.run_id
    head = await asyncio.to_thread(repo.ref, checkpoint_ref(run_id, agent))
    if head is None:
        raise ControlError(f"{agent} has changed nothing yet; nothing to discard")
    await asyncio.to_thread(mark_reviewed, repo, run_id, agent, head)
    text = (f"discarded {agent}'s work up to checkpoint {head[:12]}; its checkpoints stay "
            "until `agentorch-tui clean`")
    await engine.emit(ev.NOTICE, agent, level="info", discarded=head, text=text)
    return text
