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
        assert any("quick has finished: it reads no more messages." in n.message
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


async def test_long_ids_get_the_width_they_need_before_free_text(tui_env: Path) -> None:
    long_id = "integration-tester-2"  # 20 characters
    team = {"name": "ids", "agents": [
        {"id": long_id, "direct_communication": ["reviewer-of-everything"], "script": [
            {"tool": "send_message", "args": {"to": "reviewer-of-everything", "text": "hi"}},
            {"tool": "ask_user", "args": {"question": "ok?"}}]},
        {"id": "reviewer-of-everything", "script": [
            {"tool": "wait_for_message", "args": {"timeout": 300}}]}]}
    app = app_for(write_team(tui_env, team), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: bool(s.interrupts) and bool(s.messages))
        await pilot.pause()
        from tui.widgets.agents_panel import AgentsPanel
        from tui.widgets.interrupts_panel import InterruptsPanel
        from tui.widgets.messages_panel import MessagesPanel

        assert app.query_one(AgentsPanel).columns["id"].width >= len("reviewer-of-everything")
        assert app.query_one(InterruptsPanel).columns["agent"].width >= len(long_id)
        route = f"{long_id} → reviewer-of-everything"
        assert app.query_one(MessagesPanel).columns["route"].width >= min(len(route), 32)


def test_a_shell_is_docker_exec_as_the_sandbox_user_or_the_host_said_plainly(tmp_path: Path
                                                                              ) -> None:
    from sandboxes import SandboxSpec, create_sandbox
    from tui.takeover import Shell, shell_for

    local = shell_for(create_sandbox(SandboxSpec("local", tmp_path / "ws", "r1", "a")))
    assert isinstance(local, Shell) and local.on_host and local.cwd == str(tmp_path / "ws")
    docker = create_sandbox(SandboxSpec("docker", tmp_path / "ws", "r1", "a"))
    assert shell_for(docker) == "its container has not started (or was removed)"
    docker.container_id = "0123456789abcdef"
    shell = shell_for(docker)
    if isinstance(shell, Shell):  # the docker CLI is installed here
        assert shell.argv[1:] == ["exec", "-it", "-u", docker.user, "-w", "/workspace",
                                  "0123456789abcdef", "sh"]
        assert not shell.on_host
