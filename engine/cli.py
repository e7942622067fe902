"""The command line: `agentorch-tui [CONFIG]` (a run in the TUI, headless or detached,
new or resumed); its subcommands are in engine/cli_subcommands.py, the run look-ups in
engine/cli_runs.py, `events` and `export` in engine/cli_export.py.

Everything here except the TUI itself is importable without Textual; the TUI is
loaded lazily by tui/__main__.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

# the parts of the command line in their own modules, importable from here as before
from engine.cli_errors import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, err  # noqa: F401
from engine.cli_export import cmd_events, cmd_export  # noqa: F401
from engine.cli_runs import (  # noqa: F401
    LAST_RESUMABLE,
    AmbiguousRun,
    find_run_sync,
    one_run,
    open_existing,
    recorded_run,
    with_recorded_run,
)
from engine.cli_subcommands import cmd_check, cmd_replay, cmd_runs, run_subcommand  # noqa: F401
from engine.control_chars import visible_controls
from engine.loader import ConfigError, load_team
from engine.stale_runs import cleanup_stale
from memory.run_lock import RunLock, RunLocked
from memory.store import DEFAULT_DB, Store, StoreError
from sandboxes import SandboxError
from sandboxes.docker_client import ImageMissingError
from sandboxes.processes import pid_alive
from sandboxes.workspaces.git import GitError

_open_existing = open_existing  # the name engine/workspace_clean.py imports

SUBCOMMANDS = ("check", "schema", "runs", "events", "export", "replay", "diff", "merge", "rollback",
               "attach", "mcp", "tasks", "clean")


def demo_path() -> Path:
    return Path(str(resources.files("engine") / "demo" / "demo.yaml"))


def demo_base_dir() -> Path:
    """A new folder for one demo run's workspaces and memory, under .agentorch/demo."""
    import secrets

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / ".agentorch" / "demo" / f"{stamp}-{secrets.token_hex(3)}"


def build_run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentorch-tui",
        description="A terminal control center for teams of AI agents.",
        epilog="subcommands: check FILE | schema | runs | events RUN_ID | export RUN_ID | "
               "start [CONFIG] (a headless run in the background) | attach [RUN_ID] | "
               "diff RUN_ID AGENT | merge RUN_ID AGENT | rollback RUN_ID AGENT CHECKPOINT | "
               "replay RUN_ID (agentorch-tui SUBCOMMAND -h for more)",
    )
    p.add_argument("config", nargs="?", default="agents.yaml",
                   help="team file (default ./agents.yaml)")
    p.add_argument("--demo", action="store_true", help="run the built-in offline demo team")
    p.add_argument("--headless", action="store_true",
                   help="no TUI: events as JSON lines on stdout, commands on stdin")
    p.add_argument("--auto-approve", action="store_true",
                   help="approve plans and commands automatically")
    p.add_argument("--db", default=str(DEFAULT_DB), help=f"state database (default {DEFAULT_DB})")
    p.add_argument("--backend", choices=["auto", "docker", "local"],
                   help="override the sandbox backend of every agent")
    p.add_argument("--image", help="override the container image of every agent")
    p.add_argument("--resume", metavar="RUN_ID",
                   help="continue a stopped or crashed run (an id, a prefix, or `last`)")
    p.add_argument("--notify", choices=["bell", "desktop", "quiet"],
                   help="when an agent waits for you: ring the bell (default), also send a "
                        "desktop notification, or stay quiet (overrides the team's notify:)")
    p.add_argument("--detach", action="store_true",
                   help="with --headless: run in the background and print the run's id "
                        "(`agentorch-tui start` is the same); attach to it later")
    p.add_argument("--run-id", help=argparse.SUPPRESS)  # the id `start` chose for the run
    p.add_argument("--goal", help="the workflow's goal (a team with `workflow:`)")
    p.add_argument("--reload-config", action="store_true",
                   help="with --resume: use the team file as it is now, even if it changed "
                        "since the run started (default: refuse when it changed)")
    return p


def team_for_resume(args, ask_reload: Callable[[str], bool] | None = None
                    ) -> tuple[object, str] | int:
    try:
        run = find_run_sync(args.db, args.resume)
    except (StoreError, AmbiguousRun) as exc:
        err(str(exc))
        return EXIT_FAILED
    if run is None:
        if not Path(args.db).is_file():
            err(f"no state database at {args.db}, so no run to resume; pass --db")
        elif args.resume == "last" and find_run_sync(args.db, "last", newest=True) is None:
            err(f"there are no runs in {args.db} yet, so none to resume")
        elif args.resume == "last":
            err(f"nothing to resume in {args.db}: every run there finished or failed before "
                "it started; `agentorch-tui runs` lists them")
        else:
            err(f"no run {args.resume!r} in {args.db}; `agentorch-tui runs` lists the runs")
        return EXIT_FAILED
    if run["status"] == "running" and pid_alive(run["pid"]) and run["pid"] != os.getpid():
        err(f"run {run['id']} is still running (process {run['pid']}); stop it first")
        return EXIT_FAILED
    meta = json.loads(run["meta"] or "{}")
    # a resumed run keeps the choices it was started with, unless given again
    args.backend = args.backend or meta.get("backend")
    args.image = args.image or meta.get("image")
    args.auto_approve = args.auto_approve or bool(meta.get("auto_approve"))
    config_path = run["config_path"]
    from engine.resume import ResumeError, team_to_resume

    try:
        team, note = team_to_resume(run, args.db, getattr(args, "reload_config", False),
                                    None if args.headless else ask_reload)
    except ConfigError as exc:
        for problem in exc.problems:
            print(visible_controls(str(problem)), file=sys.stderr)
        err(f"run {run['id']} cannot be resumed while its team file has problems")
        return EXIT_CONFIG
    except ResumeError as exc:
        err(str(exc))
        return EXIT_CONFIG
    if note:
        err(note)
    args.resume = run["id"]
    return team, config_path


def main(argv: list[str] | None = None, tui_runner: Callable | None = None,
         replay_runner: Callable | None = None,
         ask_reload: Callable[[str], bool] | None = None,
         attach_runner: Callable | None = None) -> int:
    """The command line; a closed stdout or an unreadable database ends it in one line."""
    from engine.pipes import EXIT_BROKEN_PIPE, stdout_gone

    try:
        code = _main(argv, tui_runner, replay_runner, ask_reload, attach_runner)
        sys.stdout.flush()
    except BrokenPipeError:
        stdout_gone()
        return EXIT_BROKEN_PIPE
    except StoreError as exc:  # e.g. a damaged page met after the file opened
        err(str(exc))
        return EXIT_FAILED
    return code


def _main(argv: list[str] | None, tui_runner: Callable | None,
          replay_runner: Callable | None, ask_reload: Callable[[str], bool] | None,
          attach_runner: Callable | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "start":  # `start` is `--headless --detach`
        argv = [*argv[1:], "--headless", "--detach"]
    if argv and argv[0] in SUBCOMMANDS:
        return run_subcommand(argv, replay_runner, attach_runner)
    args = build_run_parser().parse_args(argv)
    if args.detach and not args.headless:
        err("--detach runs a team in the background without a TUI: add --headless "
            "(or use `agentorch-tui start`)")
        return EXIT_CONFIG
    if args.resume:
        found = team_for_resume(args, ask_reload)
        if isinstance(found, int):
            return found
        team, config = found
        if args.detach:
            from engine.service.launch import start_detached

            return start_detached(argv, args, err)
        if args.headless:
            return asyncio.run(_headless(team, config, args))
        return tui_runner(team, config, args) if tui_runner else EXIT_FAILED
    team_path = demo_path() if args.demo else Path(args.config)
    # every demo run starts from fresh workspaces and memory files (a resumed one keeps its own)
    base_dir = demo_base_dir() if args.demo else None
    try:
        if base_dir is not None:  # the demo works on a throwaway repository of its own
            from engine.demo_repo import load_demo_team

            team = load_demo_team(team_path, base_dir, db=args.db)
        else:
            team = load_team(team_path, base_dir=base_dir, db=args.db)
    except ConfigError as exc:
        for problem in exc.problems:
            print(visible_controls(str(problem)), file=sys.stderr)
        if not args.demo and not Path(args.config).exists() and args.config == "agents.yaml":
            err("no agents.yaml here; try `agentorch-tui --demo` for the offline demo team")
        return EXIT_CONFIG
    except GitError as exc:  # the demo's throwaway repository (git missing or broken)
        err(f"the demo needs git for its throwaway repository: {exc}")
        return EXIT_CONFIG
    if args.detach:
        from engine.service.launch import start_detached

        return start_detached(argv, args, err)
    from engine.workflow.checks import goal_problem

    if goal_problem(team, args.goal):
        err(goal_problem(team, args.goal))
        return EXIT_CONFIG
    if args.headless:
        return asyncio.run(_headless(team, str(team_path), args))
    if tui_runner is None:
        err("the TUI is not available in this entry point; use --headless")
        return EXIT_FAILED
    return tui_runner(team, str(team_path), args)


async def open_engine(team, config_path: str, args):
    from engine.run import Engine
    from engine.tuning import tune_gc

    tune_gc()

    store = await Store.open(args.db)
    await cleanup_stale(store, err)
    state = None
    if getattr(args, "resume", None):
        from engine.events import newer_events_problem
        from engine.resume import ResumeError, load_run_state

        state = await load_run_state(store, args.resume)
        if newer_events_problem(state.run):
            await store.close()
            raise ResumeError(newer_events_problem(state.run))
        # a crash after every agent ended but before the run was closed: resuming closes it
        if not state.resumable and state.run["status"] != "crashed":
            await store.close()
            raise ResumeError(f"run {state.run['id']} has {state.run['status']}: every agent "
                              "had ended, so there is nothing to resume")
    engine = Engine(team, store, config_path=config_path, auto_approve=args.auto_approve,
                    backend=args.backend,
                    run_id=state.run["id"] if state else getattr(args, "run_id", None),
                    image=getattr(args, "image", None), demo=bool(getattr(args, "demo", False)))
    engine.pending_resume = state
    from engine.service.control_socket import ControlServer

    engine.control = ControlServer(engine)  # other processes of this user may attach
    from engine.service.agent_socket import AgentViews

    engine.agent_views = AgentViews(engine)  # each agent's own MCP socket (CLI agents)
    if getattr(args, "goal", None) and engine.workflow is not None and state is None:
        engine.workflow.goal = args.goal
    if getattr(args, "notify", None):
        engine.notifier.setting = args.notify
    try:  # one writer per run: a second resume of it is refused, naming the holder
        engine.run_lock = RunLock.acquire(args.db, engine.run_id)
    except (RunLocked, OSError) as exc:
        await store.close()
        from engine.resume import ResumeError

        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ResumeError(reason if isinstance(exc, RunLocked) else
                          f"cannot lock run {engine.run_id} next to {args.db}: {reason}") from None
    return engine, store


async def _headless(team, config_path: str, args) -> int:
    from engine.brains.base import BrainError
    from engine.headless import run_headless
    from engine.resume import ResumeError
    from engine.run import StartupConfigError

    try:
        engine, store = await open_engine(team, config_path, args)
    except (StoreError, ResumeError) as exc:
        err(str(exc))
        return EXIT_FAILED
    try:
        return await run_headless(engine)
    except (ImageMissingError, StartupConfigError) as exc:  # setup errors, not fall-backs
        err(str(exc))
        return EXIT_CONFIG
    except (SandboxError, BrainError) as exc:
        err(str(exc))
        return EXIT_FAILED
    finally:
        await store.close()
