"""The subcommands of `agentorch-tui` (check, schema, runs, events, export, replay, attach,
and those of the workspace, workflow, clean and mcp modules): their parsers and dispatch."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable

from engine.cli_errors import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, err
from engine.cli_export import cmd_events, cmd_export
from engine.cli_runs import open_existing, recorded_run
from engine.control_chars import visible_controls
from engine.loader import ConfigError, load_team, summary
from memory.store import DEFAULT_DB
from sandboxes.processes import pid_alive


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
        team = load_team(file, db=db, start_checks=True)
    except ConfigError as exc:
        for problem in exc.problems:
            print(visible_controls(str(problem)))
        return EXIT_CONFIG
    print(visible_controls(summary(team, file)))
    from engine.network_allowed import allowed_lines, rules_lines

    for line in rules_lines(team) + allowed_lines(db, team.name):
        print(visible_controls(line))
    return EXIT_OK



async def cmd_runs(db: str) -> int:
    store = await open_existing(db)
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
