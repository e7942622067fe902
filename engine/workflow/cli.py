"""`agentorch-tui tasks RUN_ID`: a run's task board as a table (the fold of its
`task` events)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from engine import events as ev
from engine.control_chars import visible_controls
from engine.workflow import board as b
from memory.store import DEFAULT_DB

COMMANDS = ("tasks",)
EXIT_OK, EXIT_FAILED = 0, 1


def add_parsers(sub) -> None:
    t = sub.add_parser("tasks", help="print a run's task board as a table")
    t.add_argument("run_id", help="a run id (or a prefix), or `last`")
    t.add_argument("--db", default=str(DEFAULT_DB))


def run_command(args: argparse.Namespace) -> int:
    from engine.cli import with_recorded_run

    async def board(run: dict, store) -> tuple[dict, dict[str, b.Task], dict | None]:
        tasks: list[dict] = []
        flow = None
        async for rows in store.iter_events(run["id"]):
            for row in rows:
                e = ev.Event.from_row(*row)
                if e.type == ev.TASK:
                    tasks.append(e.data)
                elif e.type == ev.WORKFLOW:
                    flow = e.data
        return run, b.fold_tasks(tasks), flow

    found = asyncio.run(with_recorded_run(args.db, args.run_id, board))
    if found is None:
        return EXIT_FAILED
    run, tasks, flow = found
    sys.stdout.write(board_table(run["id"], tasks, flow))
    return EXIT_OK


def _cell(text: object, width: int) -> str:
    value = visible_controls(" ".join(str(text if text is not None else "-").split()))
    return value if len(value) <= width else value[: width - 1] + "…"


def board_table(run_id: str, tasks: dict[str, b.Task], flow: dict | None) -> str:
    if flow is None:
        return f"run {run_id} has no workflow (no `workflow:` in its team file)\n"
    lines = [f"run {run_id}  goal: {_cell(flow.get('goal'), 60)}  phase: {flow.get('phase')}"
             + (f" ({_cell(flow.get('reason'), 70)})" if flow.get("reason") else "")]
    if not tasks:
        lines.append("no tasks yet (the plan is not approved)")
        return "\n".join(lines) + "\n"
    lines.append(f"{'TASK':<14} {'STATE':<9} {'TRY':>3} {'ORDER':>5} {'ASSIGNEE':<12} "
                 f"{'AFTER':<14} {'TITLE':<30} STATUS")
    state_rank = {s: i for i, s in enumerate(b.TASK_STATES)}
    for t in sorted(tasks.values(), key=lambda t: (t.order, state_rank.get(t.state, 9))):
        status = t.reason or t.feedback or t.summary or ""
        lines.append(f"{_cell(t.task_id, 14):<14} {t.state:<9} {t.attempt:>3} {t.order:>5} "
                     f"{_cell(t.assignee, 12):<12} {_cell(','.join(t.depends_on) or '-', 14):<14} "
                     f"{_cell(t.title, 30):<30} {_cell(status, 60)}")
    counts = {}
    for t in tasks.values():
        counts[t.state] = counts.get(t.state, 0) + 1
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items(),
                                                         key=lambda x: state_rank.get(x[0], 9))))
    return "\n".join(lines) + "\n"
