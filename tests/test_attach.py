"""`start` and `attach`: a headless run in the background, the control center attached to it
from another process (here: the test's), detached and attached again, several at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from engine.service.client import find_live_run
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    pending,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.remote_app import make_attached_app
from tui.screens.dialog import InterruptDialog

CLI = [sys.executable, "-m", "tui"]


@pytest.fixture
def runtime_dir(monkeypatch):
    """A short XDG_RUNTIME_DIR of our own for the sockets (inherited by the CLI)."""
    path = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def wait_dead(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


ASK_TEAM = {"name": "bg", "agents": [
    {"id": "asker", "script": [
        {"tool": "run_command", "args": {"command": "echo before"}},
        {"tool": "ask_user", "args": {"question": "Ship?", "options": ["ship it", "hold"]}},
        {"tool": "run_command", "args": {"command": "echo after"}}]}]}


async def test_a_detached_run_is_attached_answered_and_finishes(tui_env, runtime_dir) -> None:
    team = write_team(tui_env, ASK_TEAM)
    started = cli(["start", str(team), "--backend", "local"], tui_env)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert "attach with `agentorch-tui attach" in started.stderr
    listed = cli(["runs"], tui_env).stdout
    assert run_id in listed and "attachable" in listed
    run, path = find_live_run(tui_env / ".agentorch/state.db", "last")
    assert run["id"] == run_id and path.parent == runtime_dir / "agentorch"
    app = make_attached_app(path, blink_cursors=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"), timeout=60)
        assert any("before" in line for line in app.consoles.of("asker").lines)
        await pilot.press("n", "enter")
        await pilot.pause()
        assert isinstance(app.screen, InterruptDialog)
        await pilot.press("enter")  # the first option: ship it
        await wait_until(pilot, lambda s: s.finished, timeout=60)
        assert app.state.run_status == "finished"
        await pilot.press("q")
    assert app.exit_code() == 0
    wait_dead(run["pid"])
    events = [json.loads(line) for line in cli(["events", run_id], tui_env).stdout.splitlines()]
    answered = next(e for e in events if e["type"] == "interrupt_answered")
    assert answered["answer"]["text"] == "ship it"
    assert answered["answer"]["via"] == f"attach (pid {os.getpid()})"
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "finished"
    assert not path.exists()
    assert "attachable" not in cli(["runs"], tui_env).stdout


def test_attach_says_why_when_there_is_nothing_to_attach_to(tui_env, runtime_dir) -> None:
    done = cli(["attach"], tui_env)
    assert done.returncode == 1 and "no state database" in done.stderr
    team = write_team(tui_env, {"name": "q", "agents": [
        {"id": "a", "script": [{"tool": "run_command", "args": {"command": "true"}}]}]})
    assert cli([str(team), "--headless", "--backend", "local"], tui_env).returncode == 0
    done = cli(["attach"], tui_env)
    assert done.returncode == 1 and "no live run" in done.stderr and "start" in done.stderr
    done = cli(["attach", "2026"], tui_env)
    assert "is not live (finished)" in done.stderr and "replay" in done.stderr
    done = cli([str(team), "--detach"], tui_env)
    assert done.returncode == 2 and "add --headless" in done.stderr
