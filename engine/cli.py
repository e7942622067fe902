"""The command line: `agentorch-tui [CONFIG]` and its subcommands.

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

from engine.control_chars import visible_controls
from engine.loader import ConfigError, load_team, summary
from engine.stale_runs import cleanup_stale
from memory.run_lock import RunLock, RunLocked
from memory.store import DEFAULT_DB, Store, StoreError, run_lookup
from sandboxes import SandboxError
from sandboxes.docker_client import ImageMissingError
from sandboxes.processes import pid_alive
from sandboxes.workspaces.git import GitError

SUBCOMMANDS = ("check", "schema", "runs", "events", "export", "replay", "diff", "merge", "rollback",
               "attach", "mcp", "tasks", "clean")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def demo_path() -> Path:
    return Path(str(resources.files("engine") / "demo" / "demo.yaml"))


def demo_base_dir() -> Path:
    """A new folder for one demo run's workspaces and memory, under .agentorch/demo."""
    import secrets

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path.cwd() / ".agentorch" / "demo" / f"{stamp}-{secrets.token_hex(3)}"


def err(text: str) -> None:
    print(f"agentorch: {visible_controls(text)}", file=sys.stderr)


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


def find_run_sync(db: str, ref: str, newest: bool = False) -> dict | None:
    """Look a run up without an event loop (the TUI needs the team before it starts).

    None when there is no such run; StoreError when the file cannot be read.
    """
    import sqlite3

    from memory.database import BUSY_TIMEOUT_MS, advice

    if not Path(db).is_file():
        return None
    conn = None
    try:
        conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        query = (LAST_RESUMABLE, ()) if ref == "last" and not newest else run_lookup(ref)
        rows = [dict(r) for r in conn.execute(*query).fetchall()]
    except sqlite3.Error as exc:
        if "no such table" in str(exc):  # an empty or foreign database: no runs in it
            return None
        raise StoreError(f"cannot read the state database {db}: {exc}; "
                         f"{advice(exc).replace('FILE', db)}") from None
    finally:
        if conn is not None:
            conn.close()
    return one_run(rows, ref)


#: `--resume last`: the newest run that may go on (not finished, not failed before any
#: agent started)
LAST_RESUMABLE = (
    "SELECT * FROM runs WHERE status != 'finished' AND (status != 'failed' OR EXISTS ("
    "SELECT 1 FROM events e WHERE e.run_id = runs.id AND e.type = 'tool_call')) "
    "ORDER BY started DESC LIMIT 1")


class AmbiguousRun(ValueError):
    """A prefix matches more than one run."""


def one_run(rows: list[dict], ref: str) -> dict | None:
    """The run ``ref`` names among ``rows`` (newest first); AmbiguousRun when a prefix
    matches several."""
    exact = [r for r in rows if r["id"] == ref]
    if exact or len(rows) <= 1 or ref == "last":
        return (exact or rows or [None])[0]
    shown = ", ".join(r["id"] for r in rows[:8]) + (f" and {len(rows) - 8} more"
                                                     if len(rows) > 8 else "")
    raise AmbiguousRun(f"{ref!r} matches {len(rows)} runs: {shown}; give more of the id "
                       "(or `last`)")


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


# -- subcommands ---------------------------------------------------------------------
def run_subcommand(argv: list[str], replay_runner: Callable | None = None,
                   attach_runner: Callable | None = None) -> int:
    p = argparse.ArgumentParser(prog="agentorch-tui")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="validate a team file and summarize it")
    c.add_argument("file")
    c.add_argument("--db", default=str(DEFAULT_DB),
                   help="the state database the team will use (no workspace may contain it)")
    sub.add_parser("schema", help="print the JSON Schema of agents.yaml")
    r = sub.add_parser("runs", help="list past runs")
    r.add_argument("--db", default=str(DEFAULT_DB))
    e = sub.add_parser("events", help="print a run's events as JSON lines")
    e.add_argument("run_id", help="a run id (or a prefix), or `last`")
    e.add_argument("--db", default=str(DEFAULT_DB))
    x = sub.add_parser("export", help="write a run as JSON lines or a markdown transcript")
    x.add_argument("run_id", help="a run id (or a prefix), or `last`")
    x.add_argument("--format", choices=["jsonl", "markdown"], default="markdown")
    x.add_argument("-o", "--output", help="file to write (default: stdout)")
    x.add_argument("--db", default=str(DEFAULT_DB))
    y = sub.add_parser("replay", help="open the TUI read-only on a past run and play it back")
    y.add_argument("run_id", help="a run id (or a prefix), or `last`")
    y.add_argument("--db", default=str(DEFAULT_DB))
    y.add_argument("--speed", type=_speed, default=1.0,
                   help="playback speed, e.g. 0.5, 2, 8 (default 1; pauses over 1 s are cut)")
    y.add_argument("--paused", action="store_true", help="start paused (space plays)")
    a = sub.add_parser("attach", help="the control center on a live run (detach: ctrl+d)")
    a.add_argument("run_id", nargs="?", default="last",
                   help="a run id (or a prefix), or `last` (the newest live run; default)")
    a.add_argument("--db", default=str(DEFAULT_DB))
    from engine import workspace_clean, workspace_cli
    from engine.service import mcp_server
    from engine.workflow import cli as workflow_cli

    workspace_cli.add_parsers(sub)
    workflow_cli.add_parsers(sub)
    workspace_clean.add_parser(sub)
    mcp_server.add_parser(sub, str(DEFAULT_DB))
    args = p.parse_args(argv)
    if args.cmd == "attach":
        from engine.service.launch import cmd_attach

        return cmd_attach(args, attach_runner, err)
    if args.cmd == "mcp":
        return mcp_server.run_command(args)
    if args.cmd == "clean":
        return workspace_clean.run_command(args)
    if args.cmd in workspace_cli.COMMANDS:
        return workspace_cli.run_command(args)
    if args.cmd in workflow_cli.COMMANDS:
        return workflow_cli.run_command(args)
    if args.cmd == "replay":
        return cmd_replay(args, replay_runner)
    if args.cmd == "export":
        return asyncio.run(cmd_export(args.db, args.run_id, args.format, args.output))
    if args.cmd == "check":
        return cmd_check(args.file, args.db)
    if args.cmd == "schema":
        from engine.config import TeamConfig

        print(json.dumps(TeamConfig.model_json_schema(), indent=2))
        return EXIT_OK
    if args.cmd == "runs":
        return asyncio.run(cmd_runs(args.db))
    return asyncio.run(cmd_events(args.db, args.run_id))


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed; use a number such as 0.5 or 4")
    return value


def cmd_replay(args, replay_runner: Callable | None) -> int:
    """`replay RUN_ID`: load the run's events, then hand them to the TUI's player."""
    found = asyncio.run(recorded_run(args.db, args.run_id))
    if found is None:
        return EXIT_FAILED
    run, events = found
    if not events:
        err(f"run {run['id']} has no recorded events to replay")
        return EXIT_FAILED
    if replay_runner is None:
        err("replay needs the TUI; `agentorch-tui events RUN_ID` prints the events instead")
        return EXIT_FAILED
    return replay_runner(run, events, args)


def cmd_check(file: str, db: str = str(DEFAULT_DB)) -> int:
    try:
        team = load_team(file, db=db)
    except ConfigError as exc:
        for problem in exc.problems:
            print(visible_controls(str(problem)))
        return EXIT_CONFIG
    print(visible_controls(summary(team, file)))
    from engine.network_allowed import allowed_lines, rules_lines

    for line in rules_lines(team) + allowed_lines(db, team.name):
        print(visible_controls(line))
    return EXIT_OK


async def _open_existing(db: str) -> Store | None:
    if not Path(db).exists():
        err(f"no state database at {db}; run a team first or pass --db")
        return None
    try:
        return await Store.open(db)
    except StoreError as exc:
        err(str(exc))
        return None


async def cmd_runs(db: str) -> int:
    store = await _open_existing(db)
    if store is None:
        return EXIT_FAILED
    try:
        runs = await store.runs()
        if not runs:
            print("no runs yet")
            return EXIT_OK
        from engine.resume import load_run_state
        from engine.service.client import live_socket

        print(f"{'RUN':<32} {'TEAM':<14} {'STARTED':<17} {'STATUS':<10} {'RESUME':<10} "
              f"{'TOKENS':>8} {'COST':>9}  AGENTS")
        for r in runs:
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"]))
            status = r["status"]
            live = status == "running" and pid_alive(r["pid"])
            if status == "running" and not live:
                status = "crashed"
            resumable = ""
            if live and live_socket(r) is not None:
                status, resumable = "live", "attachable"
            if status in ("crashed", "stopped", "failed"):
                state = await load_run_state(store, r["id"])
                resumable = "resumable" if state.resumable else ""
            agents = ",".join(json.loads(r["agents"]))
            team = visible_controls(r["team"])[:14]  # the team file's words: no escape codes
            print(f"{r['id']:<32} {team:<14} {started:<17} {status:<10} {resumable:<10} "
                  f"{r['tokens']:>8} ${r['cost']:>8.4f}  {visible_controls(agents)}")
            from engine.workspace_clean import unmerged_line

            unmerged = await unmerged_line(store, db, r)
            if unmerged:
                print(f"  {visible_controls(unmerged)}")
            if status == "live" or resumable:  # scheduled agents: when each wakes next
                from engine.schedules.view import next_firings_text, stored_schedules

                firings = next_firings_text(await stored_schedules(store, r["id"]))
                if firings:
                    print(f"  {visible_controls(firings)}")
        if any(r["status"] != "finished" for r in runs):
            print("\ncontinue a run with: agentorch-tui --resume RUN_ID  (or --resume last)")
        if any(live_socket(r) is not None for r in runs):
            print("attach to a live run with: agentorch-tui attach RUN_ID  (or attach last)")
    finally:
        await store.close()
    return EXIT_OK


async def recorded_run(db: str, run_id: str) -> tuple[dict, list] | None:
    """A past run and its events, or None after saying what is wrong."""
    from engine.events import Event

    async def collect(run: dict, store) -> tuple[dict, list]:
        events = []
        async for rows in store.iter_events(run["id"]):
            events.extend(Event.from_row(*row) for row in rows)
        return run, events

    return await with_recorded_run(db, run_id, collect)


async def with_recorded_run(db: str, run_id: str, use):
    """Open ``db``, find ``run_id`` and return ``await use(run, store)``; None after saying
    what is wrong (no such run, an ambiguous prefix, a newer events version)."""
    from engine.events import newer_events_problem

    store = await _open_existing(db)
    if store is None:
        return None
    try:
        try:
            run = one_run([dict(r) for r in await store.query(*run_lookup(run_id))], run_id)
        except AmbiguousRun as exc:
            err(str(exc))
            return None
        if run is None:
            err(f"no run {run_id!r} in {db}; `agentorch-tui runs` lists them")
            return None
        if newer_events_problem(run):
            err(newer_events_problem(run))
            return None
        return await use(run, store)
    finally:
        await store.close()


async def _stream_events(run: dict, store, out) -> int:
    """Write a run's events as JSON lines to ``out``, page by page; the count written."""
    from engine.events import Event

    count = 0
    async for rows in store.iter_events(run["id"]):
        out.write("".join(Event.from_row(*row).to_json() + "\n" for row in rows))
        count += len(rows)
    return count


async def cmd_events(db: str, run_id: str) -> int:
    done = await with_recorded_run(db, run_id, lambda run, store: _stream_events(run, store, sys.stdout))
    return EXIT_FAILED if done is None else EXIT_OK


async def _export_jsonl(db: str, run_id: str, output: str | None) -> int:
    """The event log as JSON lines, streamed from the database (any length of run)."""
    async def write(run: dict, store) -> int:
        if not output:
            await _stream_events(run, store, sys.stdout)
            return EXIT_OK
        try:
            with open(output, "w", encoding="utf-8") as fh:
                count = await _stream_events(run, store, fh)
        except OSError as exc:
            err(f"cannot write {output}: {exc.strerror or exc}")
            return EXIT_FAILED
        err(f"wrote {count} events of run {run['id']} to {output}")
        return EXIT_OK

    done = await with_recorded_run(db, run_id, write)
    return EXIT_FAILED if done is None else done


async def cmd_export(db: str, run_id: str, fmt: str, output: str | None) -> int:
    from engine.export import export_markdown

    if fmt == "jsonl":
        return await _export_jsonl(db, run_id, output)
    found = await recorded_run(db, run_id)
    if found is None:
        return EXIT_FAILED
    run, events = found
    text = export_markdown(run, events)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            err(f"cannot write {output}: {exc.strerror or exc}")
            return EXIT_FAILED
        err(f"wrote {len(events)} events of run {run['id']} to {output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK
