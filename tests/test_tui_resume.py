"""--resume in the TUI: a run killed with -9 opens with its whole history on screen,
its pending plan approval shown once, and approving it finishes the run."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from engine import events as ev
from engine.cli import demo_path, open_engine, team_for_resume
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    interrupt_of,
    pending,
    tui_env_fixture,
    wait_until,
)
from tests.crash_support import HeadlessRun
from tui.app import make_app
from tui.widgets.agents_panel import AgentsPanel
from tui.widgets.console_panel import ConsolePanel
from tui.widgets.interrupts_panel import InterruptsPanel
from tui.widgets.messages_panel import MessagesPanel


def crash_demo_at_the_plan(tmp: Path) -> dict:
    """The demo, headless in a subprocess, killed -9 while its checked plan waits for the
    person's approval."""
    run = HeadlessRun(["--demo", "--headless", "--backend", "local", "--db", "state.db"], tmp)
    try:
        plan = run.until(lambda e: e["type"] == "interrupt" and e["kind"] == "plan_approval",
                         answer=False)
        run.until(lambda e: e["type"] == "agent_status" and e.get("agent") == "checker"
                  and e["status"] == "done", answer=False)
    finally:
        run.kill9()
    return plan


def resume_args(tmp: Path) -> argparse.Namespace:
    return argparse.Namespace(db=str(tmp / "state.db"), resume="last", auto_approve=False,
                              backend="local", image=None, headless=False)


def script_lengths() -> list[int]:
    team = yaml.safe_load(demo_path().read_text())
    return [len(a["script"]) for a in team["agents"]]


async def test_a_resumed_run_shows_its_history_then_goes_on(tui_env: Path) -> None:
    plan = crash_demo_at_the_plan(tui_env)
    args = resume_args(tui_env)
    team, config = team_for_resume(args)

    async def factory():
        return await open_engine(team, config, args)

    app = make_app(factory, flush_interval=0.05, blink_cursors=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.run_status == "running" and bool(s.interrupts))
        await app.started.wait()
        await pilot.pause(0.1)
        state = app.state
        # the history: the workflow's messages before the crash, each agent's status then
        routes = [(m.sender, m.to) for m in state.messages]
        assert routes == [("workflow", "planner"), ("workflow", "checker"),
                          ("workflow", "planner"), ("workflow", "checker")]
        assert app.query_one(MessagesPanel).row_count == len(state.messages)
        assert state.agents["checker"].status == ev.DONE  # it finished before the crash
        assert state.agents["planner"].tool_calls >= 5  # calls made before the crash
        agents = app.query_one(AgentsPanel)
        assert agents.row_count == 5
        assert app.query_one(ConsolePanel).agent == "planner"
        # the pending plan: once, under the id it had before the crash
        panel = app.query_one(InterruptsPanel)
        plans = [i for i in state.interrupts.values() if i.kind == "plan_approval"]
        assert [i.id for i in plans] == [plan["id"]]
        assert panel.count == len(state.interrupts) == panel.row_count
        # approving it runs the board to its end
        panel.focus()
        panel.move_cursor(row=list(state.interrupts).index(interrupt_of(state, "plan_approval")))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, lambda s: s.finished, timeout=60)
        assert state.run_status == "finished"
        assert all(a.status == ev.DONE for a in state.agents.values())
        # every script step counted once, across the crash
        assert [a.tool_calls for a in state.agents.values()] == script_lengths()
        assert app.query_one(MessagesPanel).row_count == len(state.messages)
        assert not pending("plan_approval")(state)
        banner = str(app.query_one("#banner").render())
        assert "Run finished" in banner
