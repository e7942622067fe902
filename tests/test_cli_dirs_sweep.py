"""CLI agents' folders left by an engine killed with -9 are swept: the ctl folder of a
dead engine at the next start (a resumed run makes its own), the CLI's state (its
sessions) only once the run can no longer be resumed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from engine.brains.cli_dirs import sweep_dead_ctl
from engine.stale_runs import cleanup_stale
from memory.store import Store
from tests.crash_support import HeadlessRun


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_the_folders_of_dead_engines_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / f"cli-{_dead_pid()}-0123456789abcdef"
    live = tmp_path / f"cli-{os.getpid()}-0123456789abcdef"
    old_dead = tmp_path / "cli-fedcba9876543210"  # a name from before the pid was in it
    old_live = tmp_path / "cli-aaaaaaaaaaaaaaaa"
    for folder in (dead, live, old_dead, old_live):
        folder.mkdir()
    gone = socket.socket(socket.AF_UNIX)
    gone.bind(str(old_dead / "api.sock"))
    gone.close()  # the file stays; nobody listens
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(old_live / "api.sock"))
    listening.listen()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / f"cli-{_dead_pid()}-link").symlink_to(elsewhere)
    try:
        assert sweep_dead_ctl(tmp_path) == 2
    finally:
        listening.close()
    assert not dead.exists() and not old_dead.exists()
    assert live.is_dir() and old_live.is_dir() and elsewhere.is_dir()


AGENT = """import json, os
print(json.dumps({"type": "text", "text": "turn " + os.environ["AGENTORCH_TURN"]}), flush=True)
print(json.dumps({"type": "result", "text": "ok", "done": os.path.exists(%r)}))
"""


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch):
    """A private XDG_RUNTIME_DIR (short: sockets live there), so the sweep judges ours only."""
    path = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path / "agentorch"
    subprocess.run(["rm", "-rf", str(path)], check=False)


async def test_kill9_leaves_folders_the_next_starts_sweep(tmp_path: Path,
                                                          runtime_dir: Path) -> None:
    go = tmp_path / "go"
    (tmp_path / "agent.py").write_text(AGENT % str(go))
    (tmp_path / "team.yaml").write_text(yaml.safe_dump({
        "name": "sweep", "sandbox": {"backend": "local"},
        "agents": [{"id": "bot", "brain": "command", "sandbox_path": "ws",
                    "tools": ["wait_for_message", "finish"],
                    "cli": {"command": [sys.executable, str(tmp_path / "agent.py")]}}]}))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    try:
        assert run.until(lambda e: e["type"] == "agent_status"
                         and e.get("status") == "waiting_message", timeout=60)
        run_id = run.events[0]["run_id"]
    finally:
        run.kill9()
    ctl = list(runtime_dir.glob(f"cli-{run.proc.pid}-*"))
    state = tmp_path / "cli" / run_id / "bot"
    assert len(ctl) == 1 and state.is_dir()  # left behind by the kill

    go.touch()  # the next turn ends the agent
    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    resumed.send({"type": "message", "to": "bot", "text": "finish now"})  # the next turn
    assert resumed.finish(timeout=60) == 0, resumed.proc.stderr.read()
    assert not ctl[0].exists()  # swept at the resumed start: its engine was dead
    assert not list(runtime_dir.glob("cli-*"))  # the resumed engine removed its own
    assert state.is_dir()  # the crashed run could still be resumed when it started

    store = await Store.open(tmp_path / "state.db")
    try:
        await cleanup_stale(store, lambda text: None)  # the next start of any run
    finally:
        await store.close()
    assert not (tmp_path / "cli" / run_id).exists()  # the run finished: nothing to resume
