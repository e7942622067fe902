"""`agentorch-tui clean RUN_ID|--older-than DAYS [--force] [--branches]`: what finished
runs leave behind, removed on request and never by surprise.

Per run: the agents' clones (`.agentorch/workspaces/<run>/<agent>`; a `sandbox_path`
of the team file's own is kept), the run's refs in the engine's repository (checkpoints,
bases, review marks, agent branches; then its unreachable objects are pruned), and the
stored console output (the `console` events).  A run whose agents have unmerged work
(neither merged nor discarded, engine/workspace_review.py) is refused unless `--force`;
the branches published to the user's repository stay unless `--branches`.  A live run
is never touched.  `runs` shows the unmerged work per run (`unmerged_line`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine import events as ev
from engine.brains.cli_dirs import sweep_ended_state
from engine.control_chars import visible_controls
from engine.workspace_review import unmerged_agents
from engine.workspaces import seeds_of, state_dir_of
from memory.store import DEFAULT_DB, Store
from sandboxes.docker_client import daemon_is_remote
from sandboxes.hostfs import remove_tree
from sandboxes.processes import pid_alive
from sandboxes.remote_workspace import remove_run_volumes
from sandboxes.workspaces.git import GitError, UserGit, owner_of, run_git
from sandboxes.workspaces.repo import EngineRepo, agent_branch, user_git_dir

EXIT_OK, EXIT_FAILED = 0, 1
#: statuses of runs that ended early and may be resumed (`running` with a dead pid: crashed)
RESUMABLE = frozenset({"stopped", "crashed", "running"})
DAY = 86400.0


def err(text: str) -> None:
    print(visible_controls(text), file=sys.stderr)


def say(text: str) -> None:
    print(visible_controls(text))


def add_parser(sub) -> None:
    c = sub.add_parser("clean", help="remove finished runs' clones, checkpoints and console output")
    c.add_argument("run_id", nargs="?", help="a run id (or a prefix), or `last`")
    c.add_argument("--older-than", type=float, metavar="DAYS",
                   help="every finished run that ended more than DAYS days ago")
    c.add_argument("--force", action="store_true",
                   help="also runs whose agents have unmerged work (it is lost)")
    c.add_argument("--branches", action="store_true",
                   help="also delete the agents' branches published to your repository")
    c.add_argument("--db", default=str(DEFAULT_DB))


@dataclass
class RunWork:
    """What one run left behind."""

    run: dict
    repo_path: Path | None  # the user's repository (repo:), None without one
    agents: list[str] = field(default_factory=list)  # agents with a clone

    @property
    def id(self) -> str:
        return self.run["id"]


async def run_work(store: Store, run: dict) -> RunWork:
    rows = await store.query("SELECT agent, data FROM events WHERE run_id = ? AND type = ?",
                             (run["id"], ev.WORKSPACE))
    work = RunWork(run, None)
    for row in rows:
        data = json.loads(row["data"])
        work.repo_path = Path(data.get("repo") or "")
        if row["agent"] and row["agent"] not in work.agents:
            work.agents.append(row["agent"])
    return work


def engine_repo(db: str, work: RunWork) -> EngineRepo | None:
    return EngineRepo.for_project(state_dir_of(db), work.repo_path) if work.repo_path else None


async def unmerged_line(store: Store, db: str, run: dict) -> str:
    """For `runs`: which agents of ``run`` have unmerged work ('' when none)."""
    work = await run_work(store, run)
    repo = engine_repo(db, work)
    if repo is None or not work.agents:
        return ""
    waiting = await asyncio.to_thread(unmerged_agents, repo, work.id, work.agents)
    if not waiting:
        return ""
    return (f"{len(waiting)} agent(s) with unmerged work: {', '.join(waiting)} "
            f"(agentorch-tui diff {work.id} AGENT)")


def is_live(run: dict) -> bool:
    return run["status"] == "running" and pid_alive(run["pid"])


def run_command(args: argparse.Namespace) -> int:
    if (args.run_id is None) == (args.older_than is None):
        err("clean needs a RUN_ID or --older-than DAYS (one of them)")
        return EXIT_FAILED
    if args.older_than is not None and args.older_than < 0:
        err("--older-than needs a number of days >= 0, e.g. --older-than 30")
        return EXIT_FAILED
    return asyncio.run(_clean(args))


async def _clean(args: argparse.Namespace) -> int:
    from engine.cli import AmbiguousRun, _open_existing, one_run
    from memory.store import run_lookup

    store = await _open_existing(args.db)
    if store is None:
        return EXIT_FAILED
    try:
        if args.run_id is not None:
            try:
                run = one_run([dict(r) for r in await store.query(*run_lookup(args.run_id))],
                              args.run_id)
            except AmbiguousRun as exc:
                err(str(exc))
                return EXIT_FAILED
            if run is None:
                err(f"no run {args.run_id!r} in {args.db}; "
                      "`agentorch-tui runs` lists them")
                return EXIT_FAILED
            runs = [run]
        else:
            cutoff = time.time() - args.older_than * DAY
            runs = [dict(r) for r in await store.query(
                "SELECT * FROM runs WHERE COALESCE(finished, started) < ? ORDER BY started",
                (cutoff,))]
            runs = [r for r in runs if not is_live(r)]
            if not runs:
                say(f"no run ended more than {args.older_than:g} days ago")
                return EXIT_OK
        status = EXIT_OK
        for run in runs:
            if not await clean_run(store, args, run):
                status = EXIT_FAILED
        return status
    finally:
        await store.close()


async def clean_run(store: Store, args: argparse.Namespace, run: dict) -> bool:
    """Clean one run and say what was removed; False when it was refused or failed."""
    rid = run["id"]
    if is_live(run):
        err(f"run {rid} is still running; stop it first (nothing was removed)")
        return False
    if run["status"] in RESUMABLE and not args.force:
        err(f"run {rid} stopped before its end (status {run['status']}) and can still be "
            f"resumed (agentorch-tui --resume {rid}); pass --force to clean it anyway "
            "(nothing was removed)")
        return False
    work = await run_work(store, run)
    repo = engine_repo(args.db, work)
    if repo is not None and not args.force:
        waiting = await asyncio.to_thread(unmerged_agents, repo, rid, work.agents)
        if waiting:
            err(f"run {rid}: {', '.join(waiting)} {'has' if len(waiting) == 1 else 'have'} "
                  "unmerged work; merge or discard it (the diff screen, `agentorch-tui merge`), "
                  "or pass --force to lose it (nothing was removed)")
            return False
    done: list[str] = []
    try:
        removed, kept = await asyncio.to_thread(remove_workspaces, run, work)
        if removed:
            done.append(f"{removed} workspace(s)")
        if repo is not None:
            refs = await asyncio.to_thread(remove_refs, repo, rid)
            if refs:
                done.append(f"{refs} checkpoint ref(s)")
            if args.branches and work.repo_path is not None:
                gone = await asyncio.to_thread(remove_branches, work.repo_path, rid, work.agents)
                if gone:
                    done.append(f"{gone} branch(es) in {work.repo_path}")
        seeds = await asyncio.to_thread(remove_seeds, state_dir_of(args.db), rid)
        if seeds:
            done.append(f"{seeds} clone(s) never shipped to the Docker daemon")
    except (OSError, GitError) as exc:
        err(f"run {rid}: cleaning stopped part way: {exc}")
        return False
    console = await remove_console(store, rid)
    if console:
        done.append(f"{console} console event(s)")
    if sweep_ended_state(Path(args.db).resolve().parent, [rid]):
        done.append("its CLI agents' sessions")
    say(f"cleaned run {rid}: " + (", ".join(done) if done else "nothing left to remove"))
    for note in kept:
        say(f"  kept {note}")
    if work.agents and work.repo_path is not None and not args.branches:
        say(f"  the agents' branches stay in {work.repo_path} (agentorch/{rid}/*); "
              "--branches removes them")
    return True


def remove_workspaces(run: dict, work: RunWork) -> tuple[int, list[str]]:
    """The run's own clones (removed through directory descriptors: a symlink an agent
    left is removed, never followed)."""
    from engine.resume import recorded_team

    team = recorded_team(run)
    if team is None or team.repo is None:
        return 0, []
    removed, kept = 0, []
    own_folder = _demo_folder(team.base_dir)  # a --demo run's folder is its own, all of it
    for agent in team.agents:
        path = team.workspace_of(agent, run["id"])
        if own_folder is not None and path.is_relative_to(own_folder):
            pass
        elif agent.sandbox_path:
            kept.append(f"{agent.id}'s workspace {agent.sandbox_path} (its own sandbox_path)")
            continue
        if path.is_dir() and not path.is_symlink():
            remove_tree(path)  # any depth an agent nested its folders to
            removed += 1
    run_dir = team.resolve(f".agentorch/workspaces/{run['id']}")
    if run_dir is not None and run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()
    if daemon_is_remote(team.sandbox.remote):  # the workspaces are volumes on the daemon
        try:
            removed += len(remove_run_volumes(run["id"]))
        except Exception as exc:  # noqa: BLE001 - no daemon, or it refused: say so, go on
            kept.append(f"the run's workspace volumes on the Docker daemon ({exc}); "
                        f"`docker volume ls --filter label=agentorch.run={run['id']}` lists them")
    return removed, kept


def remove_seeds(state_dir: Path, run_id: str) -> int:
    """The clones made here for a remote daemon that a failed start never shipped
    (`<state>/git/seeds/<run>/<agent>`), never following a symlink."""
    seeds = seeds_of(state_dir, run_id)
    if run_id in ("", ".", "..") or "/" in run_id or not seeds.is_dir() or seeds.is_symlink():
        return 0  # a run id that is no single folder name, or nothing left
    count = sum(1 for entry in seeds.iterdir() if entry.is_dir() and not entry.is_symlink())
    remove_tree(seeds)
    return count


def _demo_folder(base_dir: Path) -> Path | None:
    """The folder of a `--demo` run (`.agentorch/demo/<time>-<hex>`), or None."""
    base = base_dir.resolve()
    return base if base.parent.name == "demo" and base.parent.parent.name == ".agentorch" else None


def remove_refs(repo: EngineRepo, run_id: str) -> int:
    """Every ref of the run in the engine's repository, then its unreachable objects."""
    if not (repo.git_dir / "HEAD").exists():
        return 0
    out = repo.git(["for-each-ref", "--format=%(refname)",
                    f"refs/agentorch/checkpoints/{run_id}/", f"refs/agentorch/base/{run_id}/",
                    f"refs/agentorch/reviewed/{run_id}/", f"refs/agentorch/before/{run_id}/",
                    f"refs/heads/agentorch/{run_id}/"])
    refs = [r for r in out.splitlines() if r]
    if refs:
        script = "".join(f"delete {ref}\n" for ref in refs).encode()
        run_git(["update-ref", "--stdin"], git_dir=repo.git_dir, input=script)
        run_git(["reflog", "expire", "--expire=now", "--all"], git_dir=repo.git_dir)
        run_git(["gc", "-q", "--prune=now"], git_dir=repo.git_dir)
    return len(refs)


def remove_branches(user_repo: Path, run_id: str, agents: list[str]) -> int:
    """The agents' published branches in the user's repository (not one checked out)."""
    git_dir = user_git_dir(user_repo)
    checked_out = UserGit(user_repo)
    gone = 0
    for agent in agents:
        branch = agent_branch(run_id, agent)
        ref = f"refs/heads/{branch}"
        if run_git(["rev-parse", "-q", "--verify", ref], git_dir=git_dir, check=False).returncode:
            continue
        if checked_out.checked_out_at(branch) is not None:
            say(f"  kept branch {branch}: it is checked out")
            continue
        run_git(["update-ref", "-d", ref], git_dir=git_dir, owner=owner_of(user_repo))
        gone += 1
    return gone


async def remove_console(store: Store, run_id: str) -> int:
    rows = await store.query("SELECT COUNT(*) AS n FROM events WHERE run_id = ? AND type = ?",
                             (run_id, ev.CONSOLE))
    count = rows[0]["n"] if rows else 0
    if count:
        store.execute("DELETE FROM events WHERE run_id = ? AND type = ?", (run_id, ev.CONSOLE))
        await store.flush()
    return count
