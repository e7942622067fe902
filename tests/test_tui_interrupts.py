"""The right interrupt every time: `n` goes to the oldest blocking interrupt (the next
on repeat), the highlight stays on its interrupt while rows come and go, `a`/`r`/Enter
never act on a row that moved under the cursor, and a dialog whose interrupt went away
closes with a notice, keeping what was typed.  Pilot tests on the real engine."""

from __future__ import annotations

from pathlib import Path

from engine import events as ev
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    pending,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.screens.compose import ComposeScreen
from tui.screens.dialog import InterruptDialog
from tui.screens.question import TextAnswerScreen
from tui.widgets.interrupts_panel import InterruptsPanel

WAIT = {"tool": "wait_for_message", "args": {"timeout": 300}}


def team(*agents: dict) -> dict:
    return {"name": "queue", "agents": list(agents)}


REPORTER = {"id": "reporter", "script": [
    {"tool": "report_progress", "args": {"text": "halfway"}}, WAIT]}
ASKER = {"id": "asker", "script": [
    {"tool": "ask_user", "args": {"question": "ship it?"}}, WAIT]}
PLANNER = {"id": "planner", "approval": "plan", "script": [
    {"tool": "propose_plan", "args": {"steps": ["write it"]}}, WAIT]}


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_n_goes_to_the_oldest_blocking_interrupt_then_the_next(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, team(REPORTER, ASKER, PLANNER)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: len(s.interrupts) == 3)
        panel = app.query_one(InterruptsPanel)
        order = list(app.state.interrupts)
        blocking = [i for i in order if app.state.interrupts[i].blocking]
        assert not app.state.interrupts[order[0]].blocking  # a progress report comes first
        assert any("n goes to the oldest" in t for t in toasts(app))
        await pilot.press("n")
        assert panel.has_focus and panel.selected_id == blocking[0]
        await pilot.press("n")
        assert panel.selected_id == blocking[1]
        await pilot.press("n")
        assert panel.selected_id == blocking[0]  # round again
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InterruptDialog)
        assert app.screen.interrupt.id == blocking[0]


async def test_the_highlight_stays_on_its_interrupt_when_another_goes(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, team(REPORTER, ASKER, PLANNER)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: len(s.interrupts) == 3)
        panel = app.query_one(InterruptsPanel)
        plan = next(i.id for i in app.state.interrupts.values() if i.kind == "plan_approval")
        question = next(i.id for i in app.state.interrupts.values() if i.kind == "user_input")
        panel.focus()
        panel.select(plan)  # the last row
        await app.engine.answer(question, "yes")  # a row above it goes (answered elsewhere)
        await wait_until(pilot, lambda s: question not in s.interrupts)
        assert panel.selected_id == plan
        assert panel.get_row_index(plan) == panel.cursor_row  # the cursor moved with it
        await pilot.press("a")
        await wait_until(pilot, lambda s: plan not in s.interrupts)
        assert app.engine.agents["planner"].plan_approved


async def test_an_interrupt_expiring_under_the_cursor_is_not_replaced_by_its_neighbour(
        tui_env: Path) -> None:
    debugger = {"id": "debugger", "script": [
        {"tool": "request_debug", "args": {"text": "stuck?", "timeout": 5}}, WAIT]}
    app = app_for(write_team(tui_env, team(debugger, PLANNER)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda s: len(s.interrupts) == 2)
        panel = app.query_one(InterruptsPanel)
        debug = next(i.id for i in app.state.interrupts.values() if i.kind == "debug_request")
        plan = next(i.id for i in app.state.interrupts.values() if i.kind == "plan_approval")
        panel.focus()
        panel.select(debug)
        await wait_until(pilot, lambda s: debug not in s.interrupts)  # it expires
        await pilot.press("a")  # meant for the debug request: not for the plan below it
        await pilot.pause()
        assert plan in app.state.interrupts and not app.engine.agents["planner"].plan_approved
        assert any(f"{debug} no longer waits" in t for t in toasts(app))
        await pilot.press("enter")  # pressed again: the row now highlighted, the plan
        await pilot.pause()
        assert isinstance(app.screen, InterruptDialog) and app.screen.interrupt.id == plan


async def test_a_dialog_whose_interrupt_expires_closes_and_keeps_the_typed_text(
        tui_env: Path) -> None:
    debugger = {"id": "debugger", "script": [
        {"tool": "request_debug", "args": {"text": "stuck?", "timeout": 4}}, WAIT]}
    app = app_for(write_team(tui_env, team(debugger)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("debug_request"))
        await pilot.press("n", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TextAnswerScreen)
        await pilot.press(*"try chmod")
        await wait_until(pilot, lambda s: not s.interrupts)  # expired while typing
        await pilot.pause()
        assert isinstance(app.screen, ComposeScreen)  # offered as a message instead
        assert any("expired" in t for t in toasts(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda s: any(m.text == "try chmod" and m.to == "debugger"
                                              for m in s.messages))
        assert app.state.agents["debugger"].status != ev.FAILED


async def test_rejecting_a_plan_asks_for_feedback(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, team(PLANNER)), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("plan_approval"))
        await pilot.press("n", "r", "enter")  # no feedback typed
        await pilot.pause()
        assert pending("plan_approval")(app.state)
        assert any("Say what should change" in t for t in toasts(app))
        await pilot.press(*"smaller steps", "enter")
        await wait_until(pilot, status_is("planner", ev.PLANNING, ev.WAITING_MESSAGE,
                                          ev.RUNNING, ev.DONE))
