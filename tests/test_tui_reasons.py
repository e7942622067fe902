"""Reasons on screen: a refused or failed call says why in the console and the detail
screen; the plan the person approved (as edited) is in the detail screen; a rejected
agent re-plans instead of doing the plan's work."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from engine import events as ev
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    pending,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.screens.agent_detail import AgentDetailScreen, detail_renderable


def rendered(app, agent: str) -> str:
    app.action_detail(agent)
    screen = app.screen
    assert isinstance(screen, AgentDetailScreen)
    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(detail_renderable(screen.detail))
    return console.export_text()


TOPOLOGY = {"name": "reasons", "agents": [
    {"id": "reviewer", "direct_communication": [], "script": [
        {"tool": "send_message", "args": {"to": "planner", "text": "FYI"}},
        {"tool": "finish", "args": {"summary": "ok"}}]},
    {"id": "planner", "script": [{"tool": "finish", "args": {"summary": "ok"}}]}]}


async def test_a_refused_call_shows_its_reason_in_the_console_and_the_detail(
        tui_env: Path) -> None:
    app = app_for(write_team(tui_env, TOPOLOGY), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, status_is("reviewer", ev.DONE))
        line = next(x for x in app.consoles.of("reviewer").lines if x.startswith("✖ "))
        assert line.startswith("✖ send_message: reviewer may not message planner")
        text = rendered(app, "reviewer")
        assert "✖ send_message: reviewer may not message planner" in text


async def test_the_approved_plan_as_edited_is_in_the_detail(tui_env: Path) -> None:
    planner = {"id": "planner", "approval": "plan", "script": [
        {"tool": "propose_plan", "revise_on_reject": True, "args": {"steps": ["write it"]}},
        {"tool": "finish", "args": {"summary": "ok"}}]}
    app = app_for(write_team(tui_env, {"name": "plans", "agents": [planner]}), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("plan_approval"))
        intr = next(iter(app.state.interrupts))
        assert "no plan approved" in rendered(app, "planner")
        app.pop_screen()
        await app.engine.approve(intr, steps=["write it", "test it"])
        await wait_until(pilot, status_is("planner", ev.DONE))
        text = rendered(app, "planner")
        assert "approved as edited" in text and "2. test it" in text


REPLANNING_CODER = {"name": "replan", "agents": [{"id": "coder", "approval": "plan", "script": [
    {"tool": "propose_plan", "revise_on_reject": True,
     "args": {"steps": ["Write greet.sh", "Run it on a name"]}},
    {"tool": "write_file", "args": {"path": "greet.sh", "content": "echo hi"}},
    {"tool": "finish", "args": {"summary": "done"}}]}]}


async def test_a_rejected_coder_re_plans_instead_of_finishing(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, REPLANNING_CODER), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("plan_approval", "coder"))
        first = next(i for i in app.state.interrupts.values() if i.agent == "coder")
        await app.engine.reject(first.id, "test on an empty name too")
        await wait_until(pilot, lambda s: any(
            i.agent == "coder" and i.id != first.id for i in s.interrupts.values()))
        revised = next(i for i in app.state.interrupts.values()
                       if i.agent == "coder" and i.id != first.id)
        assert revised.steps[-1] == "Address the feedback: test on an empty name too"
        assert app.state.agents["coder"].status == ev.AWAITING_APPROVAL
        assert not any(c.is_error for c in app.state.agents["coder"].last_calls)
        assert "rejected: test on an empty name too" in rendered(app, "coder")


async def test_pause_and_resume_bring_back_what_the_agent_was_doing(tui_env: Path) -> None:
    asker = {"id": "asker", "script": [{"tool": "ask_user", "args": {"question": "ship?"}}]}
    app = app_for(write_team(tui_env, {"name": "pause", "agents": [asker]}), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        before = app.state.agents["asker"].activity
        await pilot.press("p")
        await wait_until(pilot, status_is("asker", ev.PAUSED))
        assert app.state.agents["asker"].activity == "paused by you"
        await pilot.press("p")
        await wait_until(pilot, status_is("asker", ev.WAITING_USER))
        assert app.state.agents["asker"].activity == before != "paused by you"
