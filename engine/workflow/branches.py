"""Tasks on branches when the team has `repo:`.

The run's integration branch `agentorch/<run>/integration` (in the engine's repository,
published to the user's at each merge) starts at the base commit.  When a task starts, its
branch `agentorch/<run>/task/<id>` is cut from the integration branch: the assignee's
workspace is brought to that tree through its sandbox (as a rollback is) and its
checkpoints continue from the cut, so the task's commits are exactly its changes.  At
submit the latest checkpoint becomes the task branch (the reviewer gets its diff, QA runs
on it).  After QA a done task is merged into the integration branch (a fast-forward or a
merge commit); a conflict blocks the task naming the files, so later tasks start from
earlier results and the person merges one reviewed branch at the end.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from engine import events as ev
from sandboxes.base import SandboxError
from sandboxes.workspaces.checkpoint import read_tree
from sandboxes.workspaces.git import GitError, run_git
from sandboxes.workspaces.repo import EngineRepo, base_ref, kept_ref

if TYPE_CHECKING:
    from engine.run import Engine
    from engine.workflow.board import Task
    from engine.workflow.running import TaskFlow

#: characters of a task's diff sent to the reviewer
DIFF_LIMIT = 20_000


def integration_branch(run_id: str) -> str:
    return f"agentorch/{run_id}/integration"


def task_branch(run_id: str, task_id: str) -> str:
    return f"agentorch/{run_id}/task/{task_id}"


def _ref(branch: str) -> str:
    return f"refs/heads/{branch}"


async def cut_branch(flow: TaskFlow, task: Task) -> None:
    """Cut the task's branch from the integration branch and give the assignee that tree."""
    from sandboxes.workspaces.restore import apply_restore, plan_restore

    engine = flow.engine
    ws, agent = engine.workspaces, task.assignee or ""
    rt = engine.agents.get(agent)
    if ws is None or rt is None:
        return
    await ws.after_change(agent, rt.sandbox, None)  # what is there now stays reachable
    repo, run_id = ws.repo, engine.run_id
    branch = task_branch(run_id, task.task_id)
    async with ws._locks.setdefault(agent, asyncio.Lock()):  # noqa: SLF001 - no checkpoint meanwhile
        # a task started again (retry, reassign) goes on from its own branch
        start = await asyncio.to_thread(repo.ref, _ref(branch)) if task.cut else None
        cut = task.cut or await asyncio.to_thread(_integration_head, repo, run_id, agent)
        start = start or cut
        cpr = ws._checkpointer(agent)  # noqa: SLF001
        before = await asyncio.to_thread(repo.ref, cpr.ref)
        kept = await asyncio.to_thread(_keep, repo, before, start,
                                       kept_ref(run_id, agent, task.task_id))
        target = await asyncio.to_thread(read_tree, repo, start)
        plan = await asyncio.to_thread(plan_restore, repo, cpr.tree, target)
        try:
            if not plan.empty:
                await apply_restore(rt.sandbox, repo, plan)
        except (SandboxError, OSError, GitError) as exc:
            raise SandboxError(f"could not give {agent} the integration branch: {exc}") from None
        cpr.restart_at(start, target)  # its checkpoints go on from there; overlaps: since the cut
        await asyncio.to_thread(repo.set_ref, cpr.ref, start)
        await asyncio.to_thread(repo.set_ref, _ref(branch), start)
    task.branch, task.cut = branch, cut
    if kept and before:
        n = f"{kept} file{'s' if kept != 1 else ''}"
        await engine.emit(ev.NOTICE, agent, level="warning", kept=before, task=task.task_id,
                          text=f"{agent}'s earlier changes ({n}) are kept at checkpoint "
                               f"{before[:12]}: task {task.task_id}'s branch replaced them in "
                               f"its workspace; `rollback` to {before[:12]} brings them back")


def _keep(repo: EngineRepo, before: str | None, start: str, ref: str) -> int:
    """Keep the agent's checkpoint ``before`` reachable at ``ref`` when the cut at ``start``
    drops work of its (files it changed that ``start`` does not hold); their number."""
    if before is None or run_git(["merge-base", "--is-ancestor", before, start],
                                 git_dir=repo.git_dir, check=False).returncode == 0:
        return 0
    done = run_git(["merge-base", before, start], git_dir=repo.git_dir, check=False)
    fork = done.stdout.decode().strip() if done.returncode == 0 else ""
    if not fork:
        return 0
    files = [f for f in repo.git(["diff", "--name-only", "-z", fork, before]).split("\0") if f]
    if files:
        repo.set_ref(ref, before)
    return len(files)


def _integration_head(repo: EngineRepo, run_id: str, agent: str) -> str:
    ref = _ref(integration_branch(run_id))
    head = repo.ref(ref)
    if head is None:
        head = repo.ref(base_ref(run_id, agent))
        assert head is not None, f"no base commit for {agent}"
        repo.set_ref(ref, head)
    return head


async def task_diff(flow: TaskFlow, task: Task) -> str | None:
    """At submit: the latest checkpoint becomes the task branch (what review and QA see);
    its diff from the cut."""
    engine = flow.engine
    ws, agent = engine.workspaces, task.assignee or ""
    rt = engine.agents.get(agent)
    if ws is None or rt is None or not task.branch or not task.cut:
        return None
    await ws.after_change(agent, rt.sandbox, None)
    repo = ws.repo
    head = await asyncio.to_thread(repo.ref, ws._checkpointer(agent).ref)  # noqa: SLF001
    if head is None:
        return None
    await asyncio.to_thread(repo.set_ref, _ref(task.branch), head)
    args = ["diff", "--no-color", "--no-ext-diff", "--patch-with-stat", task.cut, head]
    done = await asyncio.to_thread(run_git, args, git_dir=repo.git_dir, check=False)
    text = done.stdout.decode("utf-8", "replace")
    if len(text) > DIFF_LIMIT:
        text = text[:DIFF_LIMIT] + f"\n[agentorch: the diff is cut here; branch {task.branch}]"
    return text or "(no changes)"


async def merge_task(flow: TaskFlow, task: Task) -> str | None:
    """Merge the done task's branch into the integration branch; a sentence naming the
    conflicting files when it cannot (nothing changed then), else None."""
    engine = flow.engine
    ws = engine.workspaces
    if ws is None or not task.branch:
        return None
    try:
        # one merge into the integration branch at a time: two tasks done together both
        # read its head, and the second's update-ref failed instead of merging or conflicting
        async with flow.integration_merges:
            return await asyncio.to_thread(_merge, engine, ws.repo, task)
    except GitError as exc:
        return f"merging {task.branch} into the integration branch failed: {exc}"


def _merge(engine: Engine, repo: EngineRepo, task: Task) -> str | None:
    from engine.workspaces import publish_refs

    run_id = engine.run_id
    integration = _ref(integration_branch(run_id))
    head = repo.ref(_ref(task.branch or ""))
    current = repo.ref(integration)
    if head is None or current is None:
        return None
    ff = run_git(["merge-base", "--is-ancestor", current, head], git_dir=repo.git_dir,
                 check=False).returncode == 0
    if ff:
        new = head
    else:
        done = run_git(["merge-tree", "--write-tree", "--name-only", "--no-messages", current,
                        head], git_dir=repo.git_dir, check=False)
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        if done.returncode == 1:
            files = [line for line in lines[1:] if line]
            return (f"merging task {task.task_id} into {integration_branch(run_id)} conflicts "
                    f"in {', '.join(files[:10]) or 'its files'}; nothing was merged")
        if done.returncode != 0 or not lines:
            raise GitError(done.stderr.decode("utf-8", "replace").strip() or "merge-tree failed")
        new = repo.git(["commit-tree", lines[0], "-p", current, "-p", head, "-m",
                        f"Merge task {task.task_id}: {task.title}"]).strip()
    repo.git(["update-ref", integration, new, current])
    publish_refs(engine.workspaces.user_repo, repo, [f"+{integration}:{integration}",
                                                     f"+{_ref(task.branch or '')}:"
                                                     f"{_ref(task.branch or '')}"])
    return None


async def branch_archive(engine: Engine, task: Task) -> bytes | None:
    """The task branch's files as a tar (for QA), or None without one."""
    ws = engine.workspaces
    if ws is None or not task.branch:
        return None
    head = await asyncio.to_thread(ws.repo.ref, _ref(task.branch))
    if head is None:
        return None
    done = await asyncio.to_thread(run_git, ["archive", "--format=tar", head],
                                   git_dir=ws.repo.git_dir)
    return done.stdout
