"""`agentorch-tui diff RUN_ID AGENT [--stat]` and `merge RUN_ID AGENT [--squash] [--into B]`:
an agent's work on the user's repository (`repo:`), from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from engine import events as ev
from engine.control_chars import visible_controls
from engine.workspaces import merge_text, merge_work, state_dir_of
from memory.store import DEFAULT_DB
from sandboxes.processes import pid_alive
from sandboxes.workspaces.git import GitError, UserGit, run_git
from sandboxes.workspaces.merge import MergeConflict
from sandboxes.workspaces.repo import EngineRepo, agent_branch, base_ref, checkpoint_ref

EXIT_OK, EXIT_FAILED = 0, 1
COMMANDS = ("diff", "merge", "rollback")


def add_parsers(sub) -> None:
    d = sub.add_parser("diff", help="print an agent's changes (latest checkpoint against its base)")
    d.add_argument("run_id", help="a run id (or a prefix), or `last`")
    d.add_argument("agent")
    d.add_argument("--stat", action="store_true", help="only the changed files and +/- counts")
    d.add_argument("--from", dest="since", metavar="CHECKPOINT", default="base",
                   help="compare from this checkpoint (default: the agent's base)")
    d.add_argument("--to", dest="until", metavar="CHECKPOINT",
                   help="compare to this checkpoint (default: the latest)")
    d.add_argument("--db", default=str(DEFAULT_DB))
    m = sub.add_parser("merge", help="merge an agent's work into the base branch of the repository")
    m.add_argument("run_id", help="a run id (or a prefix), or `last`")
    m.add_argument("agent")
    m.add_argument("--squash", action="store_true", help="one new commit instead of the agent's history")
    m.add_argument("--how", choices=("auto", "ff", "merge", "squash"), default="auto",
                   help="auto: fast-forward when possible, else a merge commit; ff: only a "
                   "fast-forward; merge: always a merge commit; squash: one new commit")
    m.add_argument("--into", metavar="BRANCH", help="the branch to merge into (default: the run's base)")
    m.add_argument("--push", metavar="REMOTE", help="then push the merged branch there (your git)")
    m.add_argument("--db", default=str(DEFAULT_DB))
    r = sub.add_parser("rollback", help="restore an agent's workspace to one of its checkpoints")
    r.add_argument("run_id", help="a run id (or a prefix), or `last`")
    r.add_argument("agent")
    r.add_argument("checkpoint", help="a checkpoint's commit id (or a prefix), as the "
                   "`checkpoint` events name it; `base` for where the agent started")
    r.add_argument("--db", default=str(DEFAULT_DB))


@dataclass
class AgentWork:
    run_id: str
    agent: str
    user_repo: Path
    base_branch: str
    repo: EngineRepo
    base: str
    head: str | None  # latest checkpoint, None when nothing changed
    run: dict
    backend: str  # where the agent ran


def err(text: str) -> None:
    print(visible_controls(text), file=sys.stderr)


async def find_work(db: str, run_ref: str, agent: str) -> AgentWork | None:
    """What the run recorded about ``agent``'s clone, or None after saying what is wrong."""
    from engine.cli import recorded_run

    found = await recorded_run(db, run_ref)
    if found is None:
        return None
    run, events = found
    if agent not in json.loads(run["agents"] or "[]"):
        err(f"run {run['id']} has no agent {agent!r}; agents: {', '.join(json.loads(run['agents']))}")
        return None
    clone = next((e for e in events if e.type == ev.WORKSPACE and e.agent == agent), None)
    if clone is None:
        agents = sorted({e.agent for e in events if e.type == ev.WORKSPACE and e.agent})
        err(f"run {run['id']} has no clone of agent {agent!r}; " + (
            f"agents with one: {', '.join(agents)}" if agents else
            "its team has no `repo:` (diff and merge need one)"))
        return None
    user_repo = Path(clone.data["repo"])
    repo = EngineRepo.for_project(state_dir_of(db), user_repo)
    base = repo.ref(base_ref(run["id"], agent))
    if base is None:
        err(f"the engine's repository {repo.git_dir} has no record of {agent} in run {run['id']}")
        return None
    started = next((e for e in events if e.type == ev.RUN_STARTED), None)
    return AgentWork(run["id"], agent, user_repo, clone.data["base_branch"], repo, base,
                     repo.ref(checkpoint_ref(run["id"], agent)), run,
                     (started.data.get("backends") or {}).get(agent, "local") if started else "local")


def run_command(args: argparse.Namespace) -> int:
    work = asyncio.run(find_work(args.db, args.run_id, args.agent))
    if work is None:
        return EXIT_FAILED
    try:
        if args.cmd == "rollback":
            return cmd_rollback(work, args)
        return cmd_diff(work, args) if args.cmd == "diff" else cmd_merge(work, args)
    except MergeConflict as exc:
        err(f"merging {agent_branch(work.run_id, work.agent)} conflicts in "
            f"{len(exc.files)} file(s); nothing was changed:")
        for name in exc.files:
            err(f"  {name}")
        return EXIT_FAILED
    except GitError as exc:
        err(str(exc))
        return EXIT_FAILED


def cmd_diff(work: AgentWork, options: argparse.Namespace) -> int:
    from engine.workspace_rollback import checkpoint_commit

    if work.head is None:
        err(f"{work.agent} changed nothing in run {work.run_id}")
        return EXIT_OK
    since = checkpoint_commit(work.repo, work.run_id, work.agent, options.since)
    until = checkpoint_commit(work.repo, work.run_id, work.agent, options.until or work.head)
    args = ["diff", "--no-ext-diff", "--no-textconv", "--no-color", "--find-renames"]
    args += ["--stat"] if options.stat else ["--binary"]
    out = run_git([*args, since, until], git_dir=work.repo.git_dir).stdout
    if sys.stdout.isatty():  # agent bytes on a terminal: escape sequences shown, not obeyed
        sys.stdout.write(visible_controls(out.decode("utf-8", "replace")))
    else:  # a pipe gets the exact patch
        sys.stdout.flush()
        sys.stdout.buffer.write(out)
    sys.stdout.flush()
    return EXIT_OK


def cmd_merge(work: AgentWork, args: argparse.Namespace) -> int:
    if work.head is None:
        err(f"{work.agent} changed nothing in run {work.run_id}; nothing to merge")
        return EXIT_FAILED
    target = args.into or work.base_branch
    branch, result = merge_work(work.user_repo, work.repo, work.run_id, work.agent, target,
                                args.squash, args.how)
    print(merge_text(branch, target, result))
    if args.push:
        UserGit(work.user_repo).run(["push", "-q", "--", args.push, f"refs/heads/{target}:refs/heads/{target}"])
        print(f"pushed {target} to {args.push}")
    return EXIT_OK


def cmd_rollback(work: AgentWork, args: argparse.Namespace) -> int:
    from engine.workspace_rollback import rollback, target_commit

    if work.run["status"] == "running" and pid_alive(work.run["pid"]):
        err(f"run {work.run_id} is still running; stop it first (rolling back a live agent "
            "is not supported yet)")
        return EXIT_FAILED
    target = target_commit(work, args.checkpoint)
    commit = asyncio.run(rollback(work, target, args.db))
    if commit is None:
        print(f"{work.agent}'s workspace already matches {target[:12]}")
    else:
        print(f"{work.agent}'s workspace is back at {target[:12]}; the rollback is checkpoint "
              f"{commit[:12]} (undo: rollback to the one before it)")
    return EXIT_OK
