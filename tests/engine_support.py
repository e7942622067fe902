"""Helpers to run a real engine (real SQLite, local sandboxes) from tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.config import TeamConfig
from engine.events import Event
from engine.run import Engine
from memory.store import Store


def make_team(tmp_path: Path, agents: list[dict[str, Any]], **team: Any) -> TeamConfig:
    data = {"name": "t", "sandbox": {"backend": "local"}, **team}
    data["agents"] = [{"model": "scripted", "script": [], **a} for a in agents]
    return TeamConfig.model_validate({**data, "base_dir": tmp_path})


def step(tool: str, **args: Any) -> dict[str, Any]:
    return {"tool": tool, "args": args}


class Watcher:
    """Records every event of an engine and waits for the ones a test expects."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[Event] = []
        self._sub = engine.bus.subscribe(maxsize=100_000)
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        while True:
            ev = await self._sub.get()
            async with self._changed:
                if ev is not None:
                    self.events.append(ev)
                self._changed.notify_all()
            if ev is None:
                return

    def find(self, type: str, agent: str | None = None, **fields: Any) -> list[Event]:
        out = []
        for e in self.events:
            if e.type != type or (agent is not None and e.agent != agent):
                continue
            if all(e.data.get(k) == v for k, v in fields.items()):
                out.append(e)
        return out

    async def wait_for(self, type: str, agent: str | None = None, timeout: float = 15,
                       **fields: Any) -> Event:
        async def look() -> Event:
            async with self._changed:
                while True:
                    found = self.find(type, agent, **fields)
                    if found:
                        return found[0]
                    if self._task.done():
                        raise AssertionError(f"run ended without {type} {agent} {fields}")
                    await self._changed.wait()
        return await asyncio.wait_for(look(), timeout)

    def results(self, agent: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.type == "tool_result" and e.agent == agent]


async def start(team: TeamConfig, tmp_path: Path, **kw: Any) -> tuple[Engine, Watcher, Store]:
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, **kw)
    watcher = Watcher(engine)
    await engine.start()
    return engine, watcher, store


async def run_to_end(team: TeamConfig, tmp_path: Path, timeout: float = 30,
                     **kw: Any) -> tuple[Engine, Watcher, Store]:
    engine, watcher, store = await start(team, tmp_path, **kw)
    await asyncio.wait_for(engine.wait(), timeout)
    await watcher._task
    return engine, watcher, store
