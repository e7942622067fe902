"""Finding a run from the command line: `--resume last` takes the newest run that can go
on (not a newer finished one), and a prefix that matches several runs lists them
instead of picking one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.cli import find_run_sync, run_subcommand
from engine.run import Engine
from memory.store import Store
from tests.engine_support import make_team, step


async def record(tmp_path: Path, run_id: str, *, stop: bool) -> None:
    script = [step("wait_for_message", timeout=300)] if stop else [step("finish", summary="ok")]
    team = make_team(tmp_path, [{"id": "a", "script": script}])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, run_id=run_id)
    await engine.start()
    if stop:
        while engine.agents["a"].status != "waiting_message":
            await asyncio.sleep(0.01)
        await engine.stop()
    await engine.wait()
    await store.close()


@pytest.fixture(name="db")
def runs_db(tmp_path: Path) -> Path:
    """An older stopped run and two newer finished ones sharing a prefix."""
    async def make() -> None:
        await record(tmp_path, "20260101-100000-stopped", stop=True)
        await record(tmp_path, "20260101-110000-done-one", stop=False)
        await record(tmp_path, "20260101-110000-done-two", stop=False)
    asyncio.run(make())
    return tmp_path / "state.db"


def test_resume_last_takes_the_newest_resumable_run(db: Path) -> None:
    assert find_run_sync(str(db), "last")["id"] == "20260101-100000-stopped"
    assert find_run_sync(str(db), "last", newest=True)["id"].startswith("20260101-110000-done")


@pytest.mark.parametrize("command", ["export", "events", "replay"])
def test_an_ambiguous_prefix_lists_the_matches(db: Path, command: str, capsys) -> None:
    code = run_subcommand([command, "20260101-11", "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 1
    assert "'20260101-11' matches 2 runs" in err
    assert "20260101-110000-done-one" in err and "20260101-110000-done-two" in err
    assert run_subcommand(["events", "20260101-110000-done-one", "--db", str(db)]) == 0
