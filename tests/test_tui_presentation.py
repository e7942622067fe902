"""The pure parts of the TUI: run state from events, console buffers, text."""

from __future__ import annotations

import subprocess
import sys

from engine import events as ev
from tui.console_buffers import SAID_PREFIX, SAID_WIDTH, ConsoleBuffers, exit_line
from tui.presentation import (
    fold,
    interrupts_title,
    player_text,
    status_text,
    tokens_text,
)
from tui.state import RunState
from tui.status_line import status_bar_text


def event(type: str, agent: str | None = None, seq: int = 1, **data) -> ev.Event:
    return ev.Event(type, "r1", seq, 0.0, agent, data)


def state() -> RunState:
    s = RunState("team", "r1", [("a", "coder"), ("b", "tester")])
    s.apply(event(ev.RUN_STARTED, team="team", agents=["a", "b"],
                  backends={"a": "local", "b": "docker"}))
    return s


def test_run_state_follows_status_tool_calls_and_usage() -> None:
    s = state()
    s.apply(event(ev.AGENT_STATUS, "a", status=ev.RUNNING, activity="$ make"))
    s.apply(event(ev.TOOL_CALL, "a", call_id="c1", tool="run_command", args={"command": "make"}))
    s.apply(event(ev.TOOL_RESULT, "a", call_id="c1", tool="run_command", is_error=True))
    s.apply(event(ev.USAGE, "a", agent_tokens=1500, agent_cost=0.02, team_tokens=1500,
                  team_cost=0.02))
    a = s.agents["a"]
    assert (a.status, a.activity, a.tool_calls, a.tokens) == (ev.RUNNING, "$ make", 1, 1500)
    assert a.last_calls[-1].is_error is True
    assert (s.team_tokens, s.team_cost) == (1500, 0.02)
    assert s.unsandboxed == ["a"]


def test_interrupts_are_pending_until_answered_oldest_first() -> None:
    s = state()
    s.apply(event(ev.INTERRUPT, "a", id="i1", kind="plan_approval", prompt="p", blocking=True,
                  steps=["x"]))
    s.apply(event(ev.INTERRUPT, "b", id="i2", kind="user_input", prompt="q?", blocking=True,
                  options=["y", "n"]))
    assert list(s.interrupts) == ["i1", "i2"]
    s.apply(event(ev.INTERRUPT_ANSWERED, "a", id="i1", answer={"approved": True}))
    assert list(s.interrupts) == ["i2"] and s.interrupts["i2"].options == ["y", "n"]


def test_a_finished_run_reports_final_statuses() -> None:
    s = state()
    s.apply(event(ev.RUN_FINISHED, status="finished", reason="every agent has ended",
                  agents={"a": ev.DONE, "b": ev.FAILED}))
    assert s.finished and s.counts() == {"active": 0, "idle": 0, "done": 1, "failed": 1,
                                           "cancelled": 0, "stopped": 0}
    assert s.agents_still_running() == []


def test_messages_are_logged_and_filterable_by_agent() -> None:
    s = state()
    s.apply(event(ev.MESSAGE, "a", id="m1", to="all", recipients=["b"], kind="broadcast",
                  text="hi", **{"from": "a"}))
    msg = s.message("m1")
    assert msg is not None and msg.involves("b") and not msg.involves("c")


def test_console_joins_lines_split_across_chunks_and_marks_commands() -> None:
    c = ConsoleBuffers(scrollback=100)
    c.apply(event(ev.CONSOLE, "a", kind="command", text="make"))
    c.apply(event(ev.CONSOLE, "a", kind="output", text="buil"))
    c.apply(event(ev.CONSOLE, "a", kind="output", text="ding\n\x1b[31mred\x1b[0m\nno newline"))
    c.apply(event(ev.CONSOLE, "a", kind="exit", exit_code=2, timed_out=False, truncated=False))
    assert list(c.of("a").lines) == ["$ make", "building", "red", "no newline", "[exit 2]"]
    assert c.lines_in == 5


def test_console_scrollback_is_bounded_and_new_lines_are_counted() -> None:
    c = ConsoleBuffers(scrollback=10)
    c.apply(event(ev.CONSOLE, "a", kind="output", text="".join(f"{i}\n" for i in range(25))))
    assert len(c.of("a").lines) == 10
    lines, seen = c.new_since("a", 20)
    assert lines == ["20", "21", "22", "23", "24"] and seen == 25
    lines, seen = c.new_since("a", 0)  # more new lines than kept: only the kept ones
    assert lines == [str(i) for i in range(15, 25)]


def said(agent: str, text: str, final: bool = False) -> ev.Event:
    return event(ev.ASSISTANT_TEXT, agent, text=text, turn=1, final=final)


def test_what_the_model_says_joins_its_chunks_into_marked_lines() -> None:
    c = ConsoleBuffers(scrollback=100)
    c.apply(said("a", "I will run "))
    assert list(c.of("a").lines) == []  # the line is not finished yet
    c.apply(said("a", "the tests.\nThen I"))
    c.apply(event(ev.CONSOLE, "a", kind="output", text="half a line"))
    c.apply(said("a", " report.", final=True))
    c.apply(said("b", "", final=True))  # an empty final chunk adds nothing
    assert list(c.of("a").lines) == [f"{SAID_PREFIX}I will run the tests.", "half a line",
                                     f"{SAID_PREFIX}Then I report."]
    assert list(c.of("b").lines) == []


def test_a_long_streamed_paragraph_is_shown_as_it_comes_in_wrapped_lines() -> None:
    c = ConsoleBuffers(scrollback=100)
    words = " ".join(f"word{i}" for i in range(60))
    c.apply(said("a", words[:250]))
    shown = list(c.of("a").lines)
    assert shown and all(len(line) <= SAID_WIDTH + len(SAID_PREFIX) for line in shown)
    c.apply(said("a", words[250:], final=True))
    text = " ".join(line.removeprefix(SAID_PREFIX) for line in c.of("a").lines)
    assert text == words


def test_a_restored_interrupt_and_a_repeated_message_are_shown_once() -> None:
    s = state()
    s.apply(ev.Event(ev.INTERRUPT, "r1", 2, 100.0, "a",
                     {"id": "i1", "kind": "user_input", "prompt": "ok?"}))
    s.apply(ev.Event(ev.INTERRUPT, "r1", 9, 500.0, "a",
                     {"id": "i1", "kind": "user_input", "prompt": "ok?", "restored": True}))
    assert list(s.interrupts) == ["i1"] and s.interrupts["i1"].ts == 100.0  # asked then
    for seq in (3, 10):
        s.apply(event(ev.MESSAGE, "a", seq=seq, id="m1", to="b", kind="notify", text="hi",
                      **{"from": "a"}))
    assert len(s.messages) == 1


def test_a_call_taken_up_again_after_a_resume_is_counted_once() -> None:
    s = state()
    s.apply(event(ev.TOOL_CALL, "a", call_id="a-6", tool="wait_for_message", args={}))
    s.apply(event(ev.TOOL_CALL, "a", call_id="a-6", tool="wait_for_message", args={},
                  resumed=True))
    s.apply(event(ev.TOOL_RESULT, "a", call_id="a-6", tool="wait_for_message", is_error=False))
    assert s.agents["a"].tool_calls == 1 and len(s.agents["a"].last_calls) == 1
    assert s.agents["a"].last_calls[0].is_error is False


def test_player_bar_text() -> None:
    text = player_text(37, 120, 1767268805.0, 1767268800.0, 2.0, paused=False).plain
    assert "event 37/120" in text and "+0:05" in text and "×2" in text and "REPLAY" in text
    assert "paused" in player_text(3, 9, None, None, 0.5, paused=True).plain
    assert "end" in player_text(9, 9, 1.0, 0.0, 64.0, paused=False).plain


def test_texts() -> None:
    assert fold("a long line of text", 8) == "a long…"
    assert fold("first\nsecond", 50) == "first…"
    assert tokens_text(999) == "999" and tokens_text(12_345) == "12.3k"
    assert interrupts_title(0) == "Interrupts" and interrupts_title(3) == "Interrupts (3)"
    assert exit_line(124, timed_out=True) == "[exit 124 · timed out]"
    assert "waiting for you" in status_text(ev.WAITING_USER).plain
    assert "UNSANDBOXED" in status_bar_text(state()).plain


def test_the_engine_never_imports_textual() -> None:
    code = ("import sys, engine.run, engine.cli, engine.headless, engine.replay, sandboxes, "
            "memory.store; "
            "import tui.state, tui.presentation, tui.console_buffers; "
            "print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
