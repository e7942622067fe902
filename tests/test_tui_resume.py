"""--resume in the TUI: a run killed with -9 opens with its whole history on screen,
its pending question shown once, and answering it finishes the run."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine import events as ev
from engine.cli import open_engine, team_for_resume
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


def crash_demo_at_the_question(tmp: Path) -> dict:
    """The demo, headless in a subprocess, killed -9 while the reviewer's question waits."""
    run = HeadlessRun(["--demo", "--headless", "--auto-approve", "--backend", "local",
                       "--db", "state.db"], tmp)
    try:
        debug = run.until(lambda e: e["type"] == "interrupt" and e["kind"] == "debug_request",
                          answer=False)
        run.send({"type": "answer", "interrupt": debug["id"], "text": "the sleep 1"})
        question = run.until(lambda e: e["type"] == "interrupt" and e["kind"] == "user_input",
                             answer=False)
    finally:
        run.kill9()
    return question


def resume_args(tmp: Path) -> argparse.Namespace:
    return argparse.Namespace(db=str(tmp / "state.db"), resume="last", auto_approve=True,
                              backend="local", image=None, headless=False)


async def test_a_resumed_run_shows_its_history_then_goes_on(tui_env: Path) -> None:
    question = crash_demo_at_the_question(tui_env)
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
        # the history: messages sent before the crash, each agent's status then
        routes = [(m.sender, m.to) for m in state.messages]
        assert ("planner", "coder") in routes and ("coder", "reviewer") in routes
        assert ("reviewer", "coder") in routes  # its reply, before the crash
        assert app.query_one(MessagesPanel).row_count == len(state.messages) >= 4
        assert state.agents["reviewer"].status == ev.WAITING_USER
        assert state.agents["coder"].status == ev.DONE  # it finished before the crash
        assert state.agents["planner"].tool_calls >= 5  # calls made before the crash
        agents = app.query_one(AgentsPanel)
        assert agents.row_count == 3
        console = app.query_one(ConsolePanel)
        assert console.agent == "planner" and any("greet(name)" in line for line in console.lines)
        # the pending question: once, under the id it had before the crash
        panel = app.query_one(InterruptsPanel)
        questions = [i for i in state.interrupts.values() if i.kind == "user_input"]
        assert [i.id for i in questions] == [question["id"]]
        assert panel.count == len(state.interrupts) == panel.row_count
        # answering it finishes the run
        panel.focus()
        panel.move_cursor(row=list(state.interrupts).index(interrupt_of(state, "user_input")))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")  # the first option: ship it
        await wait_until(pilot, lambda s: s.finished, timeout=30)
        assert state.run_status == "finished"
        assert all(a.status == ev.DONE for a in state.agents.values())
        # every script step counted once, across the crash (the demo: 7, 8 and 7 steps)
        assert [a.tool_calls for a in state.agents.values()] == [7, 8, 7]
        assert app.query_one(MessagesPanel).row_count == len(state.messages)
        assert not pending("user_input")(state)
        banner = str(app.query_one("#banner").render())
        assert "Run finished" in banner
