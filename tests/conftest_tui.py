"""Helpers for the TUI tests: the real engine, a real SQLite store in a tmp dir, the
local backend, scripted agents, a frozen clock and a fixed run id (so screens are
deterministic), plus waiting on the run state instead of sleeping."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from engine.cli import demo_path
from engine.demo_repo import load_demo_team
from engine.loader import load_team
from engine.run import Engine
from memory.store import Store
from tui.app import ControlCenter, make_app
from tui.state import RunState

FROZEN_TS = 1767268800.0  # 2026-01-01 12:00:00 UTC
RUN_ID = "20260101-120000-test"


@pytest.fixture(name="tui_env")
def tui_env_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tmp working dir and UTC, so times and paths on screen never vary."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield tmp_path
    monkeypatch.delenv("TZ")
    time.tzset()


def write_team(tmp_path: Path, team: dict, name: str = "team.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(team, sort_keys=False))
    return path


def app_for(team_path: Path | None, tmp_path: Path, *, auto_approve: bool = False,
            flush_interval: float = 0.05, **kwargs) -> ControlCenter:
    """The control center on a team file (default: the demo team), local backend."""
    path = team_path or demo_path()
    base = tmp_path / "demo" if team_path is None else None
    team = load_team(path, base_dir=base) if base is None else load_demo_team(path, base)

    async def factory():
        store = await Store.open(tmp_path / "state.db")
        engine = Engine(team, store, config_path=str(path), run_id=RUN_ID,
                        auto_approve=auto_approve, clock=lambda: FROZEN_TS, backend="local")
        return engine, store

    return make_app(factory, flush_interval=flush_interval, blink_cursors=False, **kwargs)


async def wait_until(pilot, predicate: Callable[[RunState], bool], timeout: float = 15.0) -> None:
    """Let the app run until ``predicate(run state)`` holds (fails after ``timeout``)."""
    app: ControlCenter = pilot.app
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if app.state is not None and predicate(app.state):
            await pilot.pause()
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting; state: {describe(app.state)}")
        await pilot.pause(0.02)


def describe(state: RunState | None) -> str:
    if state is None:
        return "no state"
    agents = ", ".join(f"{a.id}={a.status}" for a in state.agents.values())
    return f"run={state.run_status} agents: {agents} interrupts: {list(state.interrupts)}"


def pending(kind: str, agent: str | None = None) -> Callable[[RunState], bool]:
    return lambda s: any(i.kind == kind and (agent is None or i.agent == agent)
                         for i in s.interrupts.values())


def status_is(agent: str, *statuses: str) -> Callable[[RunState], bool]:
    return lambda s: s.agents[agent].status in statuses


def interrupt_of(state: RunState, kind: str) -> str:
    return next(i.id for i in state.interrupts.values() if i.kind == kind)


os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
