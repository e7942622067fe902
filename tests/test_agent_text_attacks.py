"""Agent text is data: every string an agent, a model, a command or a team file puts
on the screen is shown literally, never parsed as markup (no crash on `[/]`, no lost
`[int]`, no clickable action) and never drives the terminal (escape sequences are
shown as ␛…, not obeyed).  Driven through the real app, real engine, scripted agents."""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from textual.screen import ModalScreen

from engine import events as ev
from engine.control_chars import has_controls, visible_controls
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    app_for,
    interrupt_of,
    pending,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.console_buffers import ConsoleBuffers
from tui.screens.agent_detail import AgentDetailScreen
from tui.screens.message import MessageScreen
from tui.widgets.interrupts_panel import InterruptsPanel
from tui.widgets.messages_panel import MessagesPanel

#: every attack at once: a markup crash, a lost `[int]`, an action link, a path that
#: looks like a closing tag, a terminal retitle, a screen clear
HOSTILE = "[/]list[int][@click=app.quit_now]x[/]see [/usr/bin]\x1b]0;x\x07\x1b[2J"
SHOWN = visible_controls(HOSTILE)  # [/]list[int]…␛]0;x␇␛[2J
CELL = "[/]list["  # what a narrow table cell still shows of it
EIGHT_BIT = "8-bit CSI \x9b2J, a bidi override \u202e, DEL \x7f"  # raw even in JSON text


def screen_text(app) -> str:
    """The current screen as drawn, one line per row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def assert_shown(app, *texts: str) -> None:
    """Each text is drawn literally (a long one may wrap where it has a space)."""
    drawn = screen_text(app)
    for text in texts:
        for word in text.split():
            assert word in drawn, f"{word!r} of {text!r} not on screen:\n{drawn}"
    assert "\x1b" not in drawn and "\x07" not in drawn
    assert app.is_running


def team() -> dict:
    mallory = [
        {"tool": "propose_plan", "args": {"steps": ["S1" + HOSTILE, "S2 list[int]"]}},
        {"tool": "report_progress", "args": {"text": "P" + HOSTILE}},
        {"tool": "send_message", "args": {"to": "bob", "text": "M" + HOSTILE}},
        {"tool": "update_memory", "args": {"text": "memory " + HOSTILE}},
        {"tool": "read_file", "args": {"path": "missing/" + HOSTILE}},
        {"tool": "run_command", "args": {"command": f"echo 'C{HOSTILE}'"}},
        {"tool": "ask_user", "args": {"question": "Q" + HOSTILE,
                                      "options": ["O" + HOSTILE, "list[int]"]}},
        {"tool": "request_debug", "args": {"text": "D" + HOSTILE}},
        {"tool": "finish", "args": {"summary": "F" + HOSTILE}},
    ]
    bob = [{"tool": "wait_for_message", "args": {"timeout": 60}},
           {"tool": "finish", "args": {"summary": "got it"}}]
    return {"name": "T" + HOSTILE, "agents": [
        {"id": "mallory", "type": HOSTILE, "description": "desc " + HOSTILE,
         "responsibilities": ["resp " + HOSTILE], "approval": "plan",
         "memory_file": "mallory.md", "direct_communication": ["bob"], "script": mallory},
        {"id": "bob", "type": "list[int]", "script": bob}]}


async def open_interrupt(pilot, kind: str) -> None:
    app = pilot.app
    panel = app.query_one(InterruptsPanel)
    panel.focus()
    panel.move_cursor(row=list(app.state.interrupts).index(interrupt_of(app.state, kind)))
    await pilot.press("enter")
    await until_modal(pilot)


async def until_modal(pilot) -> None:
    """Wait for a dialog to be on top (pushing one takes a few turns of the loop)."""
    for _ in range(200):
        if isinstance(pilot.app.screen, ModalScreen):
            return
        await pilot.pause(0.02)
    raise AssertionError(f"no dialog opened; the screen is {pilot.app.screen!r}")


async def test_every_agent_text_field_is_shown_literally(tui_env: Path) -> None:
    app = app_for(write_team(tui_env, team()), tui_env)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await wait_until(pilot, pending("plan_approval"))
        assert_shown(app, "T" + CELL, CELL, "list[int]")  # team name, type, interrupts

        await open_interrupt(pilot, "plan_approval")
        assert_shown(app, "1. S1" + SHOWN, "2. S2 list[int]")
        await pilot.press("e")  # the steps in an editor: still no raw escape on screen
        await pilot.pause()
        assert_shown(app, "S1[/]list[int]", "S2 list[int]")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, pending("user_input"))
        assert app.engine.agents["mallory"].plan == ["S1" + HOSTILE, "S2 list[int]"]

        app.clear_notifications()  # room for the next toast
        await app.engine.emit(ev.ASSISTANT_TEXT, "mallory", text="A" + HOSTILE, turn=1,
                              final=True)
        await app.engine.emit(ev.NOTICE, "mallory", level="error", text="N" + HOSTILE)
        await pilot.pause(0.2)  # one console flush
        assert_shown(app, "N" + SHOWN, "$ echo 'C" + SHOWN, "C" + SHOWN, "› A" + SHOWN)
        app.clear_notifications()

        await open_interrupt(pilot, "progress_report")
        assert_shown(app, "P" + SHOWN)
        await pilot.press("enter")
        await pilot.pause()

        messages = app.query_one(MessagesPanel)
        messages.focus()
        await pilot.press("enter")
        await until_modal(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert_shown(app, "M" + SHOWN)
        await pilot.press("escape")

        app.query_one("#agents").focus()
        await pilot.press("d")
        await until_modal(pilot)
        assert isinstance(app.screen, AgentDetailScreen)
        assert_shown(app, SHOWN, "desc " + SHOWN, "resp " + SHOWN, "memory " + SHOWN)
        await pilot.press("escape")

        await open_interrupt(pilot, "user_input")
        assert_shown(app, "Q" + SHOWN, "O" + SHOWN, "list[int]")
        await pilot.press("enter")  # the first option, as the agent wrote it
        await wait_until(pilot, pending("debug_request"))
        assert app.engine.agents["mallory"].brain.results[6].content == {"answer": "O" + HOSTILE}

        await open_interrupt(pilot, "debug_request")
        assert_shown(app, "D" + SHOWN)
        await pilot.press(*"ok", "enter")
        await wait_until(pilot, status_is("mallory", ev.DONE))
        await wait_until(pilot, lambda s: s.finished)
        assert_shown(app, "F" + CELL)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0  # the run ended normally; nothing quit it early


async def test_an_action_link_in_agent_text_is_no_link(tui_env: Path) -> None:
    script = [{"tool": "report_progress", "args": {"text": "[@click=app.quit_now]details[/]"}},
              {"tool": "wait_for_message", "args": {"timeout": 60}}]
    app = app_for(write_team(tui_env, {"name": "t", "agents": [{"id": "solo",
                                                                "script": script}]}), tui_env)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, pending("progress_report"))
        await open_interrupt(pilot, "progress_report")
        region = app.screen.query_one("#prompt").region
        row = screen_text(app).splitlines()[region.y]
        await pilot.click(offset=(row.index("details") + 2, region.y))
        await pilot.pause()
        assert app.is_running and not app.engine.finished.is_set()
        assert "[@click=app.quit_now]details[/]" in row


# -- what reaches the terminal ------------------------------------------------------------

class Terminal:
    """The real `agentorch-tui` under a pseudo-terminal: every byte it writes is kept."""

    def __init__(self, argv: list[str], cwd: Path, size: tuple[int, int] = (120, 40)) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none",
               "COLUMNS": str(size[0]), "LINES": str(size[1])}
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                     env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()

    def read_until(self, wanted: bytes, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                tail = bytes(self.output[-2000:])
                raise AssertionError(f"{wanted!r} never written; exit {self.proc.poll()}; "
                                     f"last output: {tail!r}")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the app exited and closed the terminal
            return False
        self.output += chunk
        return bool(chunk)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        os.close(self.master)
        return self.proc.wait()


def test_no_escape_sequence_from_an_agent_reaches_the_terminal(tmp_path: Path) -> None:
    script = [{"tool": "run_command", "args": {"command": f"echo 'C{HOSTILE}'; printf "
                                                          "'\\033]0;y\\007\\033[2J\\n'"}},
              {"tool": "report_progress", "args": {"text": "P" + HOSTILE}},
              {"tool": "wait_for_message", "args": {"timeout": 120}}]
    team_path = write_team(tmp_path, {"name": "T" + HOSTILE, "agents": [
        {"id": "mallory", "type": HOSTILE, "script": script}]})
    term = Terminal([sys.executable, "-m", "tui", str(team_path), "--backend", "local",
                     "--db", str(tmp_path / "state.db")], tmp_path)
    try:
        term.read_until(b"waiting message")
        term.send("i")
        term.read_until(b"Answer")  # the interrupts have the focus: their keys show
        term.send("\r")  # the progress report, in full
        term.read_until(b"Enter acknowledge")
        term.send("\r")  # acknowledged
        term.read_until(b"Acknowledged")
        term.send("q")
        term.read_until(b"Stop and quit")
        term.send("y")
    finally:
        code = term.close()
    out = bytes(term.output)
    assert code == 0, out[-2000:]
    assert b"\x1b]0;" not in out  # no retitle: neither the agent's text nor its command's
    assert b"\x1b[2J" not in out  # no screen clear
    textual_osc = out.count(b"\x1b]22;") + out.count(b"\x1b]52;")  # pointer shape, clipboard
    assert out.count(b"\x07") == textual_osc  # no BEL but the terminators of Textual's own
    assert b"P[/]list[int]" in out and "␛]0;x␇␛[2J".encode() in out  # drawn, visible


# -- the console and the markdown transcript ------------------------------------------------

def console_lines(*events: ev.Event) -> list[str]:
    buffers = ConsoleBuffers()
    for event in events:
        buffers.apply(event)
    buffers.of("a").end_line()
    return list(buffers.of("a").lines)


def console(kind: str, text: str = "", **data) -> ev.Event:
    return ev.Event(ev.CONSOLE, "r", 1, 0.0, "a", {"kind": kind, "text": text, **data})


def test_an_escape_sequence_split_across_output_chunks_never_reaches_the_console() -> None:
    lines = console_lines(console("output", "ok \x1b]0;pwn"), console("output", "ed\x07 then \x1b["),
                          console("output", "2J cleared?\n\x1b(0lqqk\x1b(B\n"))
    assert lines == ["ok  then  cleared?", "lqqk"]
    assert not any(has_controls(line) for line in lines)


def test_the_command_and_what_the_model_says_are_shown_with_their_controls_visible() -> None:
    said = ev.Event(ev.ASSISTANT_TEXT, "r", 2, 0.0, "a", {"text": "see \x1b[2J\x07", "final": True})
    lines = console_lines(console("command", "printf '\x1b]0;x\x07'"), said,
                          console("output", "bell\x07 nul\x00 del\x7f\n"))
    assert lines == ["$ printf '␛]0;x␇'", "› see ␛[2J␇", "bell␇ nul␀ del␡"]


def test_the_transcript_and_the_command_line_print_no_raw_control_character(tmp_path: Path
                                                                            ) -> None:
    """`export --format markdown`, `runs`, `check` and headless notices quote the team file,
    agents and commands: none may write an escape sequence to the reader's terminal."""
    script = [{"tool": "run_command", "args": {"command": f"echo 'C{HOSTILE}'; printf "
                                                          "'\\033]0;y\\007\\033[2J\\n'"}},
              {"tool": "report_progress", "args": {"text": "P" + HOSTILE}},
              {"tool": "send_message", "args": {"to": "bob", "text": "M" + HOSTILE}},
              {"tool": "read_file", "args": {"path": "missing/" + HOSTILE}},
              {"tool": "report_progress", "args": {"text": EIGHT_BIT}},
              {"tool": "finish", "args": {"summary": "F" + HOSTILE}}]
    team_path = write_team(tmp_path, {"name": "\x1b]0;x\x07T" + HOSTILE, "agents": [
        {"id": "mallory", "type": HOSTILE, "direct_communication": ["bob"], "script": script},
        {"id": "bob", "script": [{"tool": "wait_for_message", "args": {"timeout": 60}},
                                 {"tool": "finish", "args": {"summary": "ok"}}]}]})
    cli = [sys.executable, "-m", "tui"]
    run = subprocess.run([*cli, str(team_path), "--headless", "--backend", "local"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert not has_controls(run.stdout.replace("\n", "")), "raw control in the JSON lines"
    progress = [json.loads(line) for line in run.stdout.splitlines() if "progress" in line]
    assert any(e.get("prompt") == EIGHT_BIT for e in progress)  # the same text, escaped
    proc = subprocess.run([*cli, "export", "last", "--format", "markdown"], cwd=tmp_path,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert not has_controls(out.replace("\n", "").replace("\t", "")), out
    assert f"“P{SHOWN}”" in out and f"“M{SHOWN}”" in out and f"F{SHOWN}" in out
    for command in (["runs"], ["check", str(team_path)]):
        listed = subprocess.run([*cli, *command], cwd=tmp_path, capture_output=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        text = listed.stdout.decode()
        assert "T[/]list" in text and not has_controls(text.replace("\n", "")), text
