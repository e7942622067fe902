"""The TUI asks before resuming with a team file edited since the run started."""

from __future__ import annotations

import asyncio

from test_resume import GUARDED_TEAM, crash_at_the_approval

from engine.cli import EXIT_CONFIG, main
from tui.config_changed import ReloadConfigApp
from tui.screens.confirm import ConfirmScreen


async def answer(app: ReloadConfigApp, key: str) -> str:
    """Drive the real dialog: press ``key``; the text it showed."""
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        shown = str(app.screen.query_one("#prompt").render())
        await pilot.press(key)
        await pilot.pause()
    return shown


def test_the_dialog_answers_yes_no_and_escape():
    for key, expected in (("y", True), ("n", False), ("escape", False)):
        app = ReloadConfigApp("The team file [/] changed (agents.a.approval).")
        shown = asyncio.run(answer(app, key))
        assert app.return_value is expected, key
        assert "[/]" in shown and "agents.a.approval" in shown  # text, never markup


def run_resume(tmp_path, monkeypatch, key: str):
    monkeypatch.chdir(tmp_path)
    asked: list[str] = []
    started: list = []

    def ask(text: str) -> bool:
        app = ReloadConfigApp(text)
        asked.append(asyncio.run(answer(app, key)))
        return bool(app.return_value)

    def tui(team, config, args) -> int:  # the control center itself is tested elsewhere
        started.append(team)
        return 0

    code = main(["--resume", "last", "--db", "state.db"], tui_runner=tui, ask_reload=ask)
    return code, asked, started


def test_resume_in_the_tui_asks_and_quits_on_no(tmp_path, monkeypatch, capsys):
    crash_at_the_approval(tmp_path)
    (tmp_path / "team.yaml").write_text(GUARDED_TEAM.replace("approval: always", "approval: never"))
    code, asked, started = run_resume(tmp_path, monkeypatch, "n")
    assert code == EXIT_CONFIG and started == []
    assert "changed since run" in asked[0] and "agents.a.approval" in asked[0]
    assert "--reload-config" in capsys.readouterr().err


def test_resume_in_the_tui_uses_the_edited_file_on_yes(tmp_path, monkeypatch):
    crash_at_the_approval(tmp_path)
    (tmp_path / "team.yaml").write_text(GUARDED_TEAM.replace("type: coder", "type: tester"))
    code, asked, started = run_resume(tmp_path, monkeypatch, "y")
    assert code == 0 and len(asked) == 1
    assert started[0].agent("a").type == "tester"


def test_an_unchanged_file_resumes_without_asking(tmp_path, monkeypatch):
    crash_at_the_approval(tmp_path)
    code, asked, started = run_resume(tmp_path, monkeypatch, "y")
    assert code == 0 and asked == [] and started[0].agent("a").type == "coder"
