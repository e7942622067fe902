"""SIGHUP: closing the terminal (tmux kill-session) ends the TUI, the run stopped and
resumable, its command killed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest
from crash_support import ROOT

TEAM = """\
name: hup
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: a
    script:
      - {tool: run_command, args: {command: "echo started > started.txt; sleep 300"}}
      - {tool: finish, args: {summary: done}}
"""


def wait_until(pred, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_closing_the_terminal_stops_the_run_and_ends_the_tui(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    session = f"agentorch-hup-{os.getpid()}"
    command = (f"cd {tmp_path} && echo $$ > pid && PYTHONPATH={ROOT} exec {sys.executable} "
               "-m tui team.yaml --db s.db")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                    command], check=True)
    started = tmp_path / ".agentorch/workspaces/a/started.txt"
    try:
        assert wait_until(started.exists), "the command never started"
        pid = int((tmp_path / "pid").read_text())
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert wait_until(lambda: not alive(pid)), "the TUI outlived its terminal"
    conn = sqlite3.connect(tmp_path / "s.db")
    status = conn.execute("SELECT status FROM runs").fetchone()
    conn.close()
    assert status == ("stopped",)
    runs = subprocess.run([sys.executable, "-m", "tui", "runs", "--db", "s.db"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": str(ROOT)})
    assert "resumable" in runs.stdout
