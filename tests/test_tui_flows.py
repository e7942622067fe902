"""Pilot tests of the control center's flows, on the real engine (local backend,
scripted agents, SQLite in a tmp dir).  Each waits on the run state, never sleeps
a fixed time before asserting."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import events as ev
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    interrupt_of,
    pending,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.screens.confirm import ConfirmScreen
from tui.widgets.console_panel import ConsolePanel
from tui.widgets.interrupts_panel import InterruptsPanel
from tui.widgets.messages_panel import MessagesPanel


def one_agent(script: list[dict], **fields) -> dict:
    return {"name": "flow", "agents": [{"id": "solo", "type": "coder", **fields,
                                        "script": script}]}


def results_of(app, agent: str = "solo") -> list:
    return app.engine.agents[agent].brain.results


async def open_interrupt(pilot, kind: str) -> None:
    app = pilot.app
    panel = app.query_one(InterruptsPanel)
    panel.focus()
    ids = list(app.state.interrupts)
    panel.move_cursor(row=ids.index(interrupt_of(app.state, kind)))
    await pilot.press("enter")
    await pilot.pause()


PLAN = [{"tool": "propose_plan", "args": {"steps": ["write it", "test it"]}},
        {"tool": "run_command", "args": {"command": "echo plan-was-approved"}},
        {"tool": "finish", "args": {"summary": "done"}}]


async def test_approving_a_plan_lets_the_agent_go_on(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(PLAN, approval="plan")), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("plan_approval"))
        await open_interrupt(pilot, "plan_approval")
        await pilot.press("a")
        await wait_until(pilot, status_is("solo", ev.DONE))
        assert results_of(app)[0].content == {"approved": True, "steps": ["write it", "test it"]}
        assert not results_of(app)[1].is_error
        assert "plan-was-approved" in app.consoles.of("solo").lines
        assert app.query_one(InterruptsPanel).count == 0


async def test_rejecting_a_plan_sends_the_feedback_to_the_agent(tui_env: Path) -> None:
    script = [PLAN[0], {"tool": "propose_plan", "args": {"steps": ["test first"]}}]
    app = app_for(write_team(tui_env, one_agent(script, approval="plan")), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("plan_approval"))
        await open_interrupt(pilot, "plan_approval")
        await pilot.press("r", *"add tests first", "enter")
        await wait_until(pilot, lambda s: len(results_of(app)) == 1 and "i2" in s.interrupts)
        assert results_of(app)[0].content == {"approved": False, "feedback": "add tests first"}
        assert app.state.agents["solo"].status == ev.AWAITING_APPROVAL  # it re-planned


async def test_editing_a_plan_approves_the_edited_steps(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(PLAN, approval="plan")), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("plan_approval"))
        await open_interrupt(pilot, "plan_approval")
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter", *"ship it", "ctrl+s")
        await wait_until(pilot, status_is("solo", ev.DONE))
        assert app.engine.agents["solo"].plan == ["write it", "test it", "ship it"]


QUESTION = [{"tool": "ask_user", "args": {"question": "Ship?", "options": ["ship it", "hold"]}},
            {"tool": "finish", "args": {"summary": "asked"}}]


async def test_choosing_an_option_answers_the_question(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(QUESTION)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        await open_interrupt(pilot, "user_input")
        await pilot.press("down", "enter")
        await wait_until(pilot, status_is("solo", ev.DONE))
        assert results_of(app)[0].content == {"answer": "hold"}


async def test_typed_text_is_the_agents_ask_user_result(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(QUESTION)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("user_input"))
        await open_interrupt(pilot, "user_input")
        await pilot.press("tab", *"wait for QA", "enter")
        await wait_until(pilot, status_is("solo", ev.DONE))
        assert results_of(app)[0].content == {"answer": "wait for QA"}


async def test_debug_answer_and_progress_acknowledgement(tui_env: Path) -> None:
    script = [{"tool": "report_progress", "args": {"text": "half way"}},
              {"tool": "request_debug", "args": {"text": "why does it fail?"}},
              {"tool": "finish", "args": {"summary": "ok"}}]
    app = app_for(write_team(tui_env, one_agent(script)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("debug_request"))
        await open_interrupt(pilot, "progress_report")
        await pilot.press("enter")
        await wait_until(pilot, lambda s: len(s.interrupts) == 1)
        await open_interrupt(pilot, "debug_request")
        await pilot.press(*"missing chmod", "enter")
        await wait_until(pilot, status_is("solo", ev.DONE))
        assert results_of(app)[1].content == {"answer": "missing chmod", "expired": False}


RISKY = [{"tool": "run_command", "args": {"command": "rm -rf build; echo removed"}},
         {"tool": "finish", "args": {"summary": "ok"}}]


async def test_approving_a_risky_command_runs_it(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(RISKY, approval="risky")), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("command_approval"))
        app.query_one(InterruptsPanel).focus()
        await pilot.press("a")  # approve straight from the panel
        await wait_until(pilot, status_is("solo", ev.DONE))
        assert results_of(app)[0].content["exit_code"] == 0
        await pilot.pause(0.1)  # one console flush
        assert "removed" in app.query_one(ConsolePanel).lines


async def test_rejecting_a_risky_command_gives_the_agent_the_reason(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(RISKY, approval="risky")), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("command_approval"))
        await open_interrupt(pilot, "command_approval")
        await pilot.press("r", *"not on main", "enter")
        await wait_until(pilot, status_is("solo", ev.DONE))
        result = results_of(app)[0]
        assert result.is_error and "not on main" in result.content["error"]


async def test_a_message_typed_with_m_arrives_in_the_agents_inbox(tui_env: Path) -> None:
    script = [{"tool": "wait_for_message", "args": {"timeout": 60}},
              {"tool": "finish", "args": {"summary": "read it"}}]
    app = app_for(write_team(tui_env, one_agent(script)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, status_is("solo", ev.WAITING_MESSAGE))
        await pilot.press("m", *"please add tests", "enter")
        await wait_until(pilot, status_is("solo", ev.DONE))
        got = results_of(app)[0].content
        assert (got["from"], got["text"]) == ("user", "please add tests")
        assert app.query_one(MessagesPanel).row_count == 1


LOOP = [{"tool": "run_command", "args": {"command": f"echo step {i}; sleep 0.05"}}
        for i in range(200)]


async def test_pause_and_resume_stop_and_restart_tool_calls(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(LOOP)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.agents["solo"].tool_calls >= 2)
        await pilot.press("p")
        await wait_until(pilot, status_is("solo", ev.PAUSED))
        calls = app.engine.agents["solo"].tool_calls
        await pilot.pause(0.4)
        assert app.engine.agents["solo"].tool_calls <= calls + 1  # at most the one in flight
        frozen = app.engine.agents["solo"].tool_calls
        await pilot.pause(0.3)
        assert app.engine.agents["solo"].tool_calls == frozen
        await pilot.press("p")
        await wait_until(pilot, lambda s: s.agents["solo"].tool_calls > frozen + 1)
        assert app.state.agents["solo"].status == ev.RUNNING


async def test_cancel_asks_first_then_cancels_the_agent(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent(LOOP)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.agents["solo"].tool_calls >= 1)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, status_is("solo", ev.CANCELLED))
        assert app.engine.agents["solo"].task.done()
        await wait_until(pilot, lambda s: s.finished)  # the only agent ended: run over
        assert app.is_running  # and the finished run stays on screen


@pytest.mark.parametrize("keys", [("q", "y"), ("ctrl+c", "ctrl+c")])
async def test_quitting_while_agents_run_stops_them(tui_env: Path, keys) -> None:
    app = app_for(write_team(tui_env, one_agent(LOOP)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.agents["solo"].tool_calls >= 1)
        engine = app.engine
        await pilot.press(keys[0])
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(keys[1])
        await engine.finished.wait()
    assert engine.status == "stopped"
    rt = engine.agents["solo"]
    assert rt.status == ev.CANCELLED, f"{rt.status} after {rt.tool_calls} tool calls"
    assert app.store is None  # closed


async def test_quit_without_question_once_the_run_finished(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, one_agent([{"tool": "finish", "args": {
        "summary": "nothing to do"}}])), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: s.finished)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
    assert app.engine.status == "finished"


async def test_selecting_an_agent_switches_console_and_message_filter(tui_env: Path) -> None:
    team = {"name": "pair", "agents": [
        {"id": "a1", "direct_communication": ["a2"], "script": [
            {"tool": "run_command", "args": {"command": "echo from-a1"}},
            {"tool": "send_message", "args": {"to": "a2", "text": "hi a2"}},
            {"tool": "wait_for_message", "args": {"timeout": 60}}]},
        {"id": "a2", "script": [
            {"tool": "run_command", "args": {"command": "echo from-a2"}},
            {"tool": "wait_for_message", "args": {"timeout": 60}},
            {"tool": "wait_for_message", "args": {"timeout": 60}}]}]}
    app = app_for(write_team(tui_env, team), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: len(s.messages) == 1
                         and s.agents["a2"].status == ev.WAITING_MESSAGE)
        await pilot.press("m", *"to a1", "enter")  # a1 is selected first
        await wait_until(pilot, lambda s: len(s.messages) == 2)
        await pilot.pause(0.1)
        console = app.query_one(ConsolePanel)
        assert "from-a1" in console.lines and console.agent == "a1"
        await pilot.press("down")
        await pilot.pause(0.1)
        assert console.agent == "a2" and "from-a2" in console.lines
        assert "from-a1" not in console.lines
        messages = app.query_one(MessagesPanel)
        messages.focus()
        await pilot.press("f")
        assert messages.filter_agent == "a2" and messages.row_count == 1
        await pilot.press("f")
        assert messages.filter_agent is None and messages.row_count == 2


async def test_a_team_that_cannot_start_says_why(tui_env: Path) -> None:
    (tui_env / "blocker").write_text("a file where the workspace should be")
    app = app_for(write_team(tui_env, one_agent(LOOP, sandbox_path="blocker")), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await app.started.wait()
        await pilot.pause()
        assert app.start_error and type(app.screen).__name__ == "StartFailedScreen"
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 1


async def test_what_the_model_says_streams_into_its_console_set_apart(tui_env: Path) -> None:
    waiting = [{"tool": "wait_for_message", "args": {"timeout": 300}}]
    app = app_for(write_team(tui_env, one_agent(waiting)), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("solo", ev.WAITING_MESSAGE))
        for chunk, final in (("Let me look at ", False), ("the build.\nIt fails", False),
                             (" on line 3.", True)):
            await app.engine.emit(ev.ASSISTANT_TEXT, "solo", text=chunk, turn=1, final=final)
        await pilot.pause(0.15)  # one console flush
        console = app.query_one(ConsolePanel)
        assert console.lines[-2:] == ["› Let me look at the build.", "› It fails on line 3."]
        row = next(strip for strip in app.screen._compositor.render_strips()
                   if "› It fails" in strip.text)
        styles = {seg.style for seg in row if "fails" in seg.text}
        assert styles and all(s.italic for s in styles)  # dim becomes a paler colour
        assert any(seg.style.bold for seg in row if "›" in seg.text)
