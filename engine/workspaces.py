"""A run's agents working on the user's repository (`repo:` in agents.yaml).

Before the sandboxes start, each agent gets its own clone (sandboxes/workspaces/repo.py)
on branch ``agentorch/<run>/<agent>``; after every tool call that can change files a
checkpoint commit is taken from the workspace as data (sandboxes/workspaces/checkpoint.py)
and a `checkpoint` event follows the tool's result; at the end of the run each agent's
latest checkpoint is published to the user's repository as that branch (a fetch).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.recording import ControlError, RunAborted
from sandboxes.base import SandboxError
from sandboxes.remote_workspace import volume_exists
from sandboxes.workspaces.checkpoint import Checkpoint, Checkpointer
from sandboxes.workspaces.docker_snapshot import docker_changes
from sandboxes.workspaces.git import GitError, owner_of, run_git
from sandboxes.workspaces.lister import supervised_changes
from sandboxes.workspaces.merge import MERGE_MODES, MergeConflict, MergeResult, merge_agent
from sandboxes.workspaces.repo import (
    EngineRepo,
    agent_branch,
    base_ref,
    checkpoint_ref,
    resolve_base,
)
from sandboxes.workspaces.snapshot import Changes, local_changes

if TYPE_CHECKING:
    from engine.config import AgentConfig
    from engine.run import Engine
    from sandboxes.base import Sandbox

#: tools after which the workspace may have changed
CHANGES_FILES = frozenset({"write_file", "run_command"})
#: local backend: from this many files the supervisor's lister beats the walk in Python
#: (its two commands cost ~10 ms; then ~2.5 µs a file against ~4.5; bench_checkpoint.py)
LISTER_FROM = 5000
#: uid of the sandbox user when root owns the workspace (sandboxes/docker.py)
SANDBOX_UID = 1000


def state_dir_of(db_path: str | Path) -> Path:
    """The folder of the state database: the engine's repositories live in its `git/`."""
    return Path(db_path).resolve().parent


def seeds_of(state_dir: Path, run_id: str) -> Path:
    """Where a run's clones for a remote daemon are made before they are shipped into its
    volumes (one folder per agent; gone once shipped, `clean` removes what a failed start left)."""
    return state_dir.resolve() / "git" / "seeds" / run_id


class Workspaces:
    """The engine's repository of a run's project, and each agent's checkpoints."""

    def __init__(self, engine: Engine) -> None:
        team = engine.team
        assert team.repo is not None
        self.engine = engine
        self.user_repo = (team.resolve(team.repo) or Path(team.repo)).resolve()
        self.repo = EngineRepo.for_project(state_dir_of(engine.store.path), self.user_repo)
        self.branch = team.base or ""
        self._checkpointers: dict[str, Checkpointer] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._overlaps_said: set[tuple[tuple[str, ...], str]] = set()
        #: agents on a remote daemon: the clone made here, shipped into their volume at start
        self.seeds: dict[str, Path] = {}
        self.lfs = False  # the base routes files through Git LFS: agents get pointer files
        #: agents whose workspace was gone on resume and was made again from a checkpoint
        self.restored: list[str] = []

    @classmethod
    def of(cls, engine: Engine) -> Workspaces | None:
        return cls(engine) if engine.team.repo is not None else None

    # -- before the sandboxes start
    async def prepare(self, backends: dict[str, str]) -> None:
        """Fetch the base branch into the engine's repository and clone each agent's
        workspace (kept as it is on resume).  SandboxError in one sentence if it fails."""
        recorded = await self._recorded_branch() if self.engine.resuming else None
        try:
            made = await asyncio.to_thread(self._prepare_sync, backends, recorded)
        except (GitError, OSError) as exc:
            raise SandboxError(f"cannot prepare the agents' clones of {self.user_repo}: {exc}") from None
        if made and self.engine.team.copy_files:
            from engine.toolchain import copy_warning
            await self.engine.emit(ev.NOTICE, level="warning", copied=self.engine.team.copy_files,
                                   text=copy_warning(self.engine.team.copy_files))
        if made and self.lfs:
            await self.engine.emit(ev.NOTICE, level="info", text=(
                f"{self.user_repo} keeps files in Git LFS: the agents' clones hold their "
                "pointer files, not the files (the engine never runs LFS filters)"))
        for agent_id in self.restored:
            await self.engine.emit(ev.NOTICE, agent_id, level="warning", text=(
                f"{agent_id}'s workspace was gone; it was made again from its latest checkpoint "
                "(what its own .git held beyond that is lost)"))
        self.restored.clear()
        for agent_id, base in made.items():
            await self.engine.emit(ev.WORKSPACE, agent_id, repo=str(self.user_repo),
                                   branch=agent_branch(self.engine.run_id, agent_id),
                                   base_branch=self.branch, base=base)

    async def _recorded_branch(self) -> str | None:
        """A resumed run's base branch, as its first `workspace` event recorded it."""
        import json

        rows = await self.engine.store.query(
            "SELECT data FROM events WHERE run_id = ? AND type = ? ORDER BY seq LIMIT 1",
            (self.engine.run_id, ev.WORKSPACE))
        return json.loads(rows[0]["data"]).get("base_branch") or None if rows else None

    def _started_from(self) -> str | None:
        """The commit the run's agents started from (any agent's base), if one did."""
        for agent_id in self.engine.team.agent_ids:
            commit = self.repo.ref(base_ref(self.engine.run_id, agent_id))
            if commit is not None:
                return commit
        return None

    def _prepare_sync(self, backends: dict[str, str], recorded: str | None = None) -> dict[str, str]:
        """Clone each agent's workspace.  A resumed run (``recorded``: its base branch)
        keeps its branch and base commit without looking the branch up again, so it goes
        on even if that branch moved or was deleted meanwhile."""
        engine = self.engine
        user_git_dir: Path | None = None
        if recorded is not None:
            self.branch = recorded
        else:
            user_git_dir, self.branch = resolve_base(self.user_repo, engine.team.base)
        base_commit: str | None = None
        todo: list[tuple[AgentConfig, Path, bool]] = []
        for agent in [a for a in engine.team.agents if a.id in backends]:
            remote = engine.remote_docker and backends[agent.id] == "docker"
            workspace = engine.team.workspace_of(agent, engine.run_id)
            if remote:  # made here, shipped into the agent's volume on the daemon as data
                workspace = seeds_of(self.repo.git_dir.parent.parent, engine.run_id) / agent.id
            if self.repo.ref(base_ref(engine.run_id, agent.id)) and (
                    volume_exists(engine.run_id, agent.id) if remote else workspace.is_dir()):
                continue  # resumed: the clone and its checkpoints stay as they are
            if base_commit is None and recorded is not None:
                base_commit = self._started_from()  # a new agent starts where the others did
            if base_commit is None:
                if user_git_dir is None:
                    user_git_dir, self.branch = resolve_base(self.user_repo, self.branch)
                base_commit = self.repo.fetch_base(user_git_dir, self.branch)
            todo.append((agent, workspace, remote))
        if base_commit is None:
            return {}
        from engine.clone_limits import check_clones, limited_mount

        self.lfs = check_clones(self, base_commit, [(a, w) for a, w, _ in todo])
        made: dict[str, str] = {}
        for agent, workspace, remote in todo:
            docker = backends[agent.id] == "docker"
            uid = SANDBOX_UID if os.geteuid() == 0 and docker else None
            if remote:
                shutil.rmtree(workspace, ignore_errors=True)  # a start that never shipped it
                uid = None  # the tar stream gives it to the sandbox user
            elif docker:  # with resources.disk: the clone made inside its own file system
                limited_mount(engine.team, agent, workspace, SANDBOX_UID)
            # a workspace gone since its checkpoints were taken (a pruned volume, a deleted
            # folder) comes back as its latest checkpoint, not as the base
            head = self.repo.ref(checkpoint_ref(engine.run_id, agent.id))
            if head is not None:
                self.restored.append(agent.id)
            self.repo.clone_into(workspace, engine.run_id, agent.id, base_commit, uid, head)
            if engine.team.copy_files:  # untracked files such as .env (engine/toolchain.py)
                from engine.toolchain import copy_untracked
                copy_untracked(self.user_repo, workspace, engine.team.copy_files, uid)
            if remote:
                self.seeds[agent.id] = workspace
            made[agent.id] = base_commit
        return made

    # -- checkpoints
    async def after_change(self, agent_id: str, sandbox: Sandbox, call_id: str | None) -> None:
        """Checkpoint the workspace (after the tool's result was recorded) and emit a
        `checkpoint` event when anything changed.  A failure is a warning, never fatal."""
        lock = self._locks.setdefault(agent_id, asyncio.Lock())
        async with lock:
            try:
                message = f"agentorch checkpoint of {agent_id}" + (f" after {call_id}" if call_id else "")
                cpr = await asyncio.to_thread(self._checkpointer, agent_id)  # git on first use
                cp = await take_checkpoint(sandbox, cpr, message)
            except Exception as exc:  # noqa: BLE001 - a checkpoint never stops the agent
                await self.engine.emit(ev.NOTICE, agent_id, level="warning",
                                       text=f"checkpoint of {agent_id} failed: {exc}")
                return
            if cp is not None:
                await self.engine.emit(ev.CHECKPOINT, agent_id, **checkpoint_data(cp, call_id))
        if cp is not None:
            await self._say_overlaps(agent_id)

    async def _say_overlaps(self, agent_id: str) -> None:
        """A notice, once per file and pair, when two agents changed the same file: their
        merges would conflict or overwrite each other."""
        mine = self._checkpointers[agent_id].changed_since_base()
        for other, cpr in self._checkpointers.items():
            if other == agent_id:
                continue
            pair = tuple(sorted((agent_id, other)))
            both = sorted(f for f in mine & cpr.changed_since_base()
                          if (pair, f) not in self._overlaps_said)
            if both:
                self._overlaps_said.update((pair, f) for f in both)
                shown = ", ".join(both[:5]) + (f" and {len(both) - 5} more" if len(both) > 5 else "")
                await self.engine.emit(ev.NOTICE, agent_id, level="warning", overlap=list(pair),
                                       files=both[:50],
                                       text=f"{pair[0]} and {pair[1]} both changed {shown}: "
                                            "merging both may conflict")

    # -- rollback while the run goes on (headless `{"type":"rollback",...}`)
    async def rollback(self, agent_id: str, sandbox: Sandbox, checkpoint: str) -> str:
        """Restore the agent's workspace (idle: the caller checks) to ``checkpoint``
        through its sandbox; the state before and the result are checkpoints."""
        from engine.workspace_rollback import checkpoint_commit
        from sandboxes.workspaces.checkpoint import read_tree
        from sandboxes.workspaces.restore import apply_restore, plan_restore

        try:
            target = await asyncio.to_thread(checkpoint_commit, self.repo, self.engine.run_id,
                                             agent_id, checkpoint)
        except GitError as exc:
            raise ControlError(str(exc)) from None
        await self.after_change(agent_id, sandbox, None)  # what is there now stays reachable
        async with self._locks.setdefault(agent_id, asyncio.Lock()):
            cpr = self._checkpointer(agent_id)
            plan = await asyncio.to_thread(plan_restore, self.repo, cpr.tree, read_tree(self.repo, target))
            if plan.empty:
                return f"{agent_id}'s workspace already matches {target[:12]}"
            try:
                await apply_restore(sandbox, self.repo, plan)
            except (SandboxError, OSError, GitError) as exc:
                raise ControlError(f"rollback of {agent_id} failed part way ({exc}); "
                                   "its workspace may be mixed: roll back again") from None
            cp = await take_checkpoint(sandbox, cpr, f"agentorch rollback of {agent_id} to {target}")
        if cp is not None:
            await self.engine.emit(ev.CHECKPOINT, agent_id, rollback_to=target,
                                   **checkpoint_data(cp, None))
        return f"{agent_id}'s workspace is back at {target[:12]}"

    def _checkpointer(self, agent_id: str) -> Checkpointer:
        cpr = self._checkpointers.get(agent_id)
        if cpr is None:
            cpr = self._checkpointers[agent_id] = Checkpointer(self.repo, self.engine.run_id, agent_id)
        return cpr

    # -- merge while the run goes on (headless `{"type":"merge","agent":ID}`)
    async def merge(self, agent_id: str, squash: bool = False, into: str | None = None,
                    mode: str | None = None) -> str:
        """Merge the agent's latest checkpoint (``mode``: see MERGE_MODES; default the
        team's `merge:`); what happened, in one sentence.  Raises ControlError with the
        reason (nothing changed then)."""
        run_id = self.engine.run_id
        mode = "squash" if squash else (mode or self.engine.team.merge)
        if mode not in MERGE_MODES:
            raise ControlError(f"unknown merge mode {mode!r}; use {', '.join(MERGE_MODES)}")
        async with self._locks.setdefault(agent_id, asyncio.Lock()):  # no checkpoint half-way
            if self.repo.ref(checkpoint_ref(run_id, agent_id)) is None:
                raise ControlError(f"{agent_id} has changed nothing yet; nothing to merge")
            try:
                branch, result = await asyncio.to_thread(
                    merge_work, self.user_repo, self.repo, run_id, agent_id, into or self.branch, False, mode)
            except MergeConflict as exc:
                raise ControlError(f"merging {agent_id}'s work conflicts in {', '.join(exc.files)}; "
                                   "nothing was changed") from None
            except (GitError, OSError) as exc:
                raise ControlError(str(exc)) from None
        text = merge_text(branch, into or self.branch, result)
        await self.engine.emit(ev.MERGED, agent_id, branch=branch, into=into or self.branch,
                               how=result.how, commit=result.commit, text=text)
        return text

    # -- at the end of the run
    async def finish(self, sandboxes: dict[str, Sandbox]) -> None:
        """A last checkpoint of each agent (what a stop cut short), then publish.  Never
        raises: the sandboxes stop after it whatever happens (a failed store included)."""
        for agent_id, sandbox in sandboxes.items():
            if getattr(sandbox, "container_id", True):
                with contextlib.suppress(RunAborted):
                    await self.after_change(agent_id, sandbox, None)
        try:
            published = await asyncio.to_thread(self.publish)
        except (GitError, OSError) as exc:
            level, text = "warning", f"could not publish the agents' branches to {self.user_repo}: {exc}"
        else:
            level, text = "info", (f"agent branches in {self.user_repo}: {', '.join(published)}"
                                   if published else "")
        if text:
            with contextlib.suppress(RunAborted):
                await self.engine.emit(ev.NOTICE, level=level, text=text)

    def publish(self) -> list[str]:
        """Each agent's latest checkpoint as branch `agentorch/<run>/<agent>` of the user's
        repository: a fetch from the engine's repository, pure data."""
        run_id = self.engine.run_id
        refspecs, names = [], []
        for agent_id in self.engine.team.agent_ids:
            if self.repo.ref(checkpoint_ref(run_id, agent_id)):
                branch = agent_branch(run_id, agent_id)
                refspecs.append(f"+{checkpoint_ref(run_id, agent_id)}:refs/heads/{branch}")
                names.append(branch)
        for close in self._checkpointers.values():
            close.close()
        if refspecs:
            publish_refs(self.user_repo, self.repo, refspecs)
        return names


def merge_work(user_repo: Path, repo: EngineRepo, run_id: str, agent_id: str, target: str,
               squash: bool, mode: str = "auto") -> tuple[str, MergeResult]:
    """Publish the agent's latest checkpoint as its branch in the user's repository, then
    merge it into ``target`` (sandboxes/workspaces/merge.py).  GitError / MergeConflict."""
    branch = agent_branch(run_id, agent_id)
    publish_refs(user_repo, repo, [f"+{checkpoint_ref(run_id, agent_id)}:refs/heads/{branch}"])
    message = f"Merge the work of agent {agent_id} (run {run_id}, branch {branch})"
    head = repo.ref(checkpoint_ref(run_id, agent_id))
    result = merge_agent(user_repo, target, f"refs/heads/{branch}", message, squash, mode)
    if head is not None:  # merged: no longer unmerged work (engine/workspace_review.py)
        from engine.workspace_review import mark_reviewed
        mark_reviewed(repo, run_id, agent_id, head)
    return branch, result


def merge_text(branch: str, target: str, result: MergeResult) -> str:
    if result.how == "up to date":
        return f"{target} already contains {branch}"
    where = f"; {result.worktree} matches it" if result.worktree else ""
    return f"merged {branch} into {target} ({result.how}): {result.commit[:12]}{where}"


async def take_checkpoint(sandbox: Sandbox, cpr: Checkpointer, message: str) -> Checkpoint | None:
    """Read what changed in the sandbox's workspace and commit it (None: nothing did)."""
    changes = await changes_of(sandbox, cpr)
    return await asyncio.to_thread(cpr.take, changes, message)


async def changes_of(sandbox: Sandbox, cpr: Checkpointer) -> Changes:
    """What changed in the sandbox's workspace since ``cpr``'s last walk, read as data
    (see sandboxes/workspaces/snapshot.py)."""
    if sandbox.kind == "docker":
        return await docker_changes(sandbox, cpr.signatures, cpr.horizon)  # type: ignore[arg-type]
    workspace = str(sandbox.spec.workspace)
    run = getattr(sandbox, "run_supervisor", None)  # the same lister on the host, when built
    changes = None
    if run is not None and len(cpr.tree) >= LISTER_FROM:
        changes = await supervised_changes(run, workspace, cpr.signatures, cpr.horizon)
    if changes is None:  # a small workspace, or no supervisor here: the walk in Python
        changes = await asyncio.to_thread(local_changes, workspace, cpr.signatures)
    return changes


def publish_refs(user_repo: Path, repo: EngineRepo, refspecs: list[str]) -> None:
    from sandboxes.workspaces.repo import user_git_dir

    run_git(["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
             str(repo.git_dir), *refspecs], git_dir=user_git_dir(user_repo), owner=owner_of(user_repo))


def checkpoint_data(cp: Checkpoint, call_id: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"call_id": call_id, "commit": cp.commit, "changed": len(cp.changed),
                            "files": cp.changed[:50]}
    if cp.skipped:
        data["skipped"] = cp.skipped[:50]
    if cp.unreadable:
        data["unreadable"] = cp.unreadable[:50]
    return data
