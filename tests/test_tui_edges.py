"""Rough edges: a message to a finished agent is refused with the reason, the palette
offers only what the selected agent's state allows (each once), the wording of ended
agents."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import events as ev
from engine.run import ControlError
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.screens.compose import ComposeScreen

TEAM = {"name": "edges", "agents": [
    {"id": "quick", "script": [{"tool": "finish", "args": {"summary": "done fast"}}]},
    {"id": "slow", "script": [{"tool": "wait_for_message", "args": {"timeout": 300}}]}]}


def palette(app) -> list[str]:
    return [str(c.title) for c in app.get_system_commands(app.screen)]


async def test_a_message_to_a_finished_agent_is_refused_with_the_reason(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, status_is("quick", ev.DONE))
        app.selected_agent = "quick"
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, ComposeScreen)
        assert any("quick has finished: quick reads no more messages" in n.message
                   for n in app._notifications)
        with pytest.raises(ControlError, match="quick has finished: it reads no more messages"):
            await app.engine.send_user_message("quick", "hello?")
        with pytest.raises(ControlError, match="quick has finished"):
            await app.engine.cancel("quick")


async def test_the_palette_offers_what_each_agent_allows_each_once(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TEAM), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.agents["quick"].status == ev.DONE
                         and s.agents["slow"].status == ev.WAITING_MESSAGE)
        titles = palette(app)
        assert len(titles) == len(set(titles)), titles
        assert "Details of quick" in titles
        assert not any(t in titles for t in ("Message quick", "Pause quick", "Cancel quick"))
        assert {"Message slow", "Pause slow", "Cancel slow", "Details of slow"} <= set(titles)
        assert "Keys" not in titles and titles.count("Help: every key") == 1
        await app.engine.pause("slow")
        await wait_until(pilot, status_is("slow", ev.PAUSED))
        assert "Resume slow" in palette(app) and "Pause slow" not in palette(app)
