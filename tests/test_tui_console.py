"""The console: long lines wrap at the panel's width (in cells), `w` toggles it, and
dropped scrollback is marked on the border."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len

from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.widgets.console_panel import CONTINUATION, ConsolePanel, wrap_line

LONG = "x" * 150 + " END"


def printer(command: str) -> dict:
    return {"name": "console", "agents": [{"id": "solo", "script": [
        {"tool": "run_command", "args": {"command": command}},
        {"tool": "wait_for_message", "args": {"timeout": 300}}]}]}


def test_wrapping_counts_cells_not_characters() -> None:
    rows = wrap_line("日本語" * 10, 20)  # 30 wide characters, 60 cells
    assert all(cell_len(r) <= 20 for r in rows)
    assert "".join(r.removeprefix(CONTINUATION) for r in rows) == "日本語" * 10
    assert wrap_line("short", 20) == ["short"]


async def test_long_lines_wrap_by_default_and_w_toggles(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, printer(f"echo {LONG}")), tui_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("solo", "waiting_message"))
        await wait_until(pilot, lambda s: any("END" in x for x in app.consoles.of("solo").lines))
        console = app.query_one(ConsolePanel)
        await wait_until(pilot, lambda s: any("END" in x for x in console.lines))
        assert console.wrap and console.virtual_size.width <= console.size.width
        assert any(x.startswith(CONTINUATION) and "END" in x for x in console.lines)
        console.focus()
        await pilot.press("w")
        assert not console.wrap and LONG in console.lines
        assert console.virtual_size.width > console.size.width
        await pilot.press("right")
        assert console.scroll_x > 10  # a page, not a column


async def test_dropped_lines_are_marked(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, printer("seq 1 300")), tui_env, scrollback=100)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, status_is("solo", "waiting_message"))
        console = app.query_one(ConsolePanel)
        await wait_until(pilot, lambda s: "300" in console.lines)
        assert "earlier lines in the store" in str(console.border_subtitle)


def test_the_wrapped_console(snap_compare, tui_env: Path) -> None:
    app = app_for(write_team(tui_env, printer(f"echo {LONG}; echo 'ünïcödé 日本語 ok'")), tui_env)

    async def run_before(pilot) -> None:
        await wait_until(pilot, status_is("solo", "waiting_message"))
        console = pilot.app.query_one(ConsolePanel)
        await wait_until(pilot, lambda s: any(x.endswith(" ok") for x in console.lines))
        pilot.app.clear_notifications()

    assert snap_compare(app, terminal_size=(100, 24), run_before=run_before)
