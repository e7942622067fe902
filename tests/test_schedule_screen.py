"""The Schedules screen (S) on the real engine and app: a snapshot, and its keys (run now,
pause, resume) acting through the control commands. A manual clock: nothing waits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine import events as ev
from engine.loader import load_team
from engine.run import Engine
from engine.schedules.clock import ManualClock
from memory.store import Store
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    RUN_ID,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.app import make_app
from tui.screens.schedules import SchedulesScreen

START = datetime(2026, 11, 30, 8, 58, tzinfo=ZoneInfo("Europe/Paris")).timestamp()

TEAM = {
    "name": "squad",
    "sandbox": {"backend": "local"},
    "agents": [
        {"id": "reporter", "type": "writer",
         "schedule": {"cron": "*/15 * * * *", "timezone": "Europe/Paris"},
         "script": [{"tool": "report_progress", "args": {"text": "sales report sent"}},
                    {"tool": "finish", "args": {"summary": "Sent the sales report to 3 people"}}]},
        {"id": "sweeper", "type": "ops", "schedule": {"cron": "0 3 * * *", "timezone": "UTC"},
         "script": [{"tool": "finish", "args": {"summary": "swept"}}]},
        {"id": "ticker", "type": "ops", "schedule": "*/10 * * * * *",
         "script": [{"tool": "ask_user", "args": {"question": "Still there?"}}]},
    ],
}


def schedule_app(tmp_path: Path, clock: ManualClock):
    path = write_team(tmp_path, TEAM)
    team = load_team(path)

    async def factory():
        store = await Store.open(tmp_path / "state.db")
        engine = Engine(team, store, config_path=str(path), run_id=RUN_ID, clock=clock,
                        backend="local")
        return engine, store

    return make_app(factory, flush_interval=0.05, blink_cursors=False)


def actions(state, agent: str) -> list[str]:
    st = state.schedules.get(agent)
    return [] if st is None else [st.last_outcome]


async def reach_the_screen(pilot, clock: ManualClock) -> None:
    app = pilot.app
    await wait_until(pilot, lambda s: len(s.schedules) == 3
                     and all(a.status == ev.IDLE for a in s.agents.values()))
    await app.schedule_command("schedule_run", "reporter", "")
    await wait_until(pilot, lambda s: s.schedules["reporter"].last_outcome == "completed")
    clock.set(clock.now + 10 - clock.now % 10)  # ticker fires and waits on its question
    await wait_until(pilot, lambda s: s.schedules["ticker"].in_progress == 1)
    clock.advance(10)  # ... so its next firing is skipped
    await wait_until(pilot, lambda s: s.schedules["ticker"].skipped == 1)
    await app.schedule_command("schedule_pause", "sweeper", "")
    await wait_until(pilot, lambda s: s.schedules["sweeper"].paused)
    app.clear_notifications()
    await pilot.press("S")
    await wait_until(pilot, lambda s: isinstance(app.screen, SchedulesScreen))


def test_schedules_screen(snap_compare, tui_env: Path) -> None:
    clock = ManualClock(START)
    app = schedule_app(tui_env, clock)

    async def run_before(pilot) -> None:
        await reach_the_screen(pilot, clock)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(130, 20), run_before=run_before)


async def test_keys_run_now_and_pause_resume_on_the_screen(tui_env: Path) -> None:
    clock = ManualClock(START)
    app = schedule_app(tui_env, clock)
    async with app.run_test(size=(130, 30)) as pilot:
        await reach_the_screen(pilot, clock)
        table = app.screen.query_one("#schedules")
        assert [str(k.value) for k in table.rows] == ["reporter", "sweeper", "ticker"]
        await pilot.press("p")  # reporter's schedule: paused
        await wait_until(pilot, lambda s: s.schedules["reporter"].paused)
        await pilot.press("p")  # ... and resumed
        await wait_until(pilot, lambda s: not s.schedules["reporter"].paused)
        await pilot.press("r")
        await wait_until(pilot, lambda s: s.schedules["reporter"].firings == 2)
        await pilot.press("down", "down", "r")  # ticker still waits on its question: refused
        await wait_until(pilot, lambda s: s.schedules["ticker"].skipped == 2)
        assert any("ticker is still busy with firing #1" in str(n.message)
                   for n in app._notifications)
        await pilot.press("escape")
        await wait_until(pilot, lambda s: not isinstance(app.screen, SchedulesScreen))
        titles = [c.title for c in app.palette_commands()]
        assert {"Schedules", "Run ticker's schedule now", "Resume sweeper's schedule",
                "Pause reporter's schedule"} <= set(titles)
        await app.engine.stop()
