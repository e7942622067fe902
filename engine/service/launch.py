"""`agentorch-tui start` (= `--headless --detach`) and `agentorch-tui attach`.

`start` checks the team, starts the same command line again as a headless run in
its own session (no terminal: stdin and stdout closed, stderr to
``<db>.logs/<run id>.log``), waits until its control socket answers, and prints the
run's id.  `attach` finds a live run's socket and hands it to the TUI.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.service.client import ClientError, find_live_run

#: how long `start` waits for the run's socket before it gives up waiting (not the run)
START_WAIT = 120.0


def log_path(db: str | Path, run_id: str) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".logs") / f"{run_id}.log"


def child_argv(argv: list[str], run_id: str, resumed: bool) -> list[str]:
    rest = [a for a in argv if a != "--detach"]
    if "--headless" not in rest:
        rest.append("--headless")
    if not resumed:
        rest += ["--run-id", run_id]
    return [sys.executable, "-m", "tui", *rest]


def start_detached(argv: list[str], args: Any, err: Callable[[str], None]) -> int:
    """Start the run in the background; print its id once it can be attached to."""
    from engine.run import new_run_id

    resumed = bool(args.resume)
    run_id = args.resume if resumed else new_run_id()
    log = log_path(args.db, run_id)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log, "ab")  # noqa: SIM115 - handed to the child, closed below
    except OSError as exc:
        err(f"cannot write the run's log {log}: {exc.strerror or exc}")
        return 1
    with log_file:
        proc = subprocess.Popen(child_argv(argv, run_id, resumed), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log_file,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        code = proc.poll()
        try:
            find_live_run(args.db, run_id)
        except ClientError:
            pass
        else:
            print(run_id)
            err(f"run {run_id} started in the background (process {proc.pid}); attach with "
                f"`agentorch-tui attach {run_id}`, its log is {log}")
            return 0
        if code is not None:
            tail = _tail(log)
            err(f"run {run_id} did not start (exit {code})" + (f": {tail}" if tail else ""))
            return code or 1
        time.sleep(0.1)
    print(run_id)
    err(f"run {run_id} is still starting after {START_WAIT:.0f} s (process {proc.pid}); "
        f"see {log}")
    return 0


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    text = "\n".join(lines[-5:])
    return text.removeprefix("agentorch: ")


def cmd_attach(args: Any, attach_runner: Callable | None, err: Callable[[str], None]) -> int:
    try:
        run, path = find_live_run(args.db, args.run_id)
    except ClientError as exc:
        err(str(exc))
        return 1
    if attach_runner is None:
        err("attach needs the TUI; `agentorch-tui mcp` or a script can use the socket "
            f"{path} instead")
        return 1
    return attach_runner(run, path)

