"""`agentorch-tui rollback RUN_ID AGENT CHECKPOINT`: the agent's workspace back at a
checkpoint, written through its sandbox (started for it with the run's recorded
configuration), and the result checkpointed so it can be undone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.resume import recorded_team
from engine.workspaces import publish_refs, take_checkpoint
from memory.store import Store
from sandboxes import create_sandbox
from sandboxes.workspaces.checkpoint import Checkpointer, read_tree
from sandboxes.workspaces.git import GitError, run_git
from sandboxes.workspaces.repo import (
    EngineRepo,
    agent_branch,
    base_ref,
    checkpoint_ref,
    kept_heads,
)
from sandboxes.workspaces.restore import apply_restore, plan_restore

if TYPE_CHECKING:
    from engine.workspace_cli import AgentWork


def target_commit(work: AgentWork, name: str) -> str:
    return checkpoint_commit(work.repo, work.run_id, work.agent, name)


def checkpoint_commit(repo: EngineRepo, run_id: str, agent_id: str, name: str) -> str:
    """The checkpoint ``name`` (a commit id or prefix, or `base`) of this agent; GitError
    when it is not one of the agent's checkpoints."""
    base = repo.ref(base_ref(run_id, agent_id))
    head = repo.ref(checkpoint_ref(run_id, agent_id))
    if base is not None and name == "base":
        return base
    done = run_git(["rev-parse", "-q", "--verify", f"{name}^{{commit}}"], git_dir=repo.git_dir,
                   check=False)
    commit = done.stdout.decode().strip()
    if done.returncode != 0 or not base or not head or not (_ancestor(repo, base, commit) and any(
            _ancestor(repo, commit, tip) for tip in [head, *kept_heads(repo, run_id, agent_id)])):
        raise GitError(f"{name!r} is not a checkpoint of {agent_id} in run {run_id}; "
                       "`agentorch-tui events RUN_ID` lists them (type checkpoint)")
    return commit


def _ancestor(repo: EngineRepo, a: str, b: str) -> bool:
    return run_git(["merge-base", "--is-ancestor", a, b], git_dir=repo.git_dir,
                   check=False).returncode == 0


async def rollback(work: AgentWork, target: str, db: str) -> str | None:
    """Restore; the new checkpoint's commit (None when nothing had to change)."""
    from engine.run import Engine

    team = recorded_team(work.run)
    if team is None or not team.has_agent(work.agent):
        raise GitError(f"run {work.run_id} has no recorded configuration for {work.agent}")
    store = await Store.open(db)
    try:
        engine = Engine(team, store, run_id=work.run_id)  # for the sandbox spec only
        sandbox = create_sandbox(engine.sandbox_spec(team.agent(work.agent), work.backend))
    finally:
        await store.close()
    await sandbox.start()
    cpr = Checkpointer(work.repo, work.run_id, work.agent)
    try:
        await take_checkpoint(sandbox, cpr, f"agentorch checkpoint of {work.agent} before a rollback")
        plan = plan_restore(work.repo, cpr.tree, read_tree(work.repo, target))
        if plan.empty:
            return None
        await apply_restore(sandbox, work.repo, plan)
        cp = await take_checkpoint(sandbox, cpr, f"agentorch rollback of {work.agent} to {target}")
    finally:
        cpr.close()
        await sandbox.stop()
    branch = agent_branch(work.run_id, work.agent)
    publish_refs(work.user_repo, work.repo, [f"+{checkpoint_ref(work.run_id, work.agent)}:refs/heads/{branch}"])
    return cp.commit if cp else None
