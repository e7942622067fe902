"""Bad strings and bad lines from every entry point: nothing stops the store, the
printer, an agent or the command reader.

Lone surrogates (JSON's "\\ud800" escape, a model's tool arguments), bytes that
are not UTF-8, a line of 100,000 brackets, a number of 5,000 digits: each becomes
U+FFFD or an `error` event, and everything after it still works.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from crash_support import ROOT, HeadlessRun
from engine_support import make_team, run_to_end, step

TEAM = """\
name: bad
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: coder
    script:
      - {tool: wait_for_message, args: {timeout: 60}}
      - {tool: ask_user, args: {question: "go on?"}}
      - {tool: wait_for_message, args: {timeout: 60}}
      - {tool: finish, args: {summary: done}}
"""


def stored(db, type: str | None = None) -> list[dict]:
    conn = sqlite3.connect(db)
    rows = [json.loads(d) for t, d in conn.execute("SELECT type, data FROM events ORDER BY seq")
            if type is None or t == type]
    conn.close()
    return rows


def test_headless_lines_of_any_kind_never_stop_the_reader(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    stdin = run.proc.stdin.buffer if hasattr(run.proc.stdin, "buffer") else run.proc.stdin
    lines = [
        b"[" * 100_000,  # RecursionError in json.loads
        b'{"type": "approve", "interrupt": "i1", "limit_tokens": ' + b"9" * 5000 + b"}",
        b"{not json",
        b'{"type": "message", "to": "coder", "text": "lone \\ud800 and \xff\xfe bytes"}',
    ]
    # written before the team has started: they wait for it
    stdin.write(b"\n".join(lines) + b"\n")
    stdin.flush()
    question = run.until(lambda e: e["type"] == "interrupt", answer=False)
    run.send({"type": "answer", "interrupt": question["id"], "text": "yes \udc80"[:4]})
    run.send({"type": "message", "to": "all", "text": "to everyone"})
    assert run.finish() == 0, run.proc.stderr.read()
    errors = [e["text"] for e in run.events if e["type"] == "error"]
    assert len(errors) == 3, errors
    assert "nested too deeply" in errors[0]
    assert "5000 digits" in errors[1]
    assert "not JSON" in errors[2]
    texts = [e["text"] for e in run.events if e["type"] == "message"]
    assert texts == ["lone \ufffd and \ufffd\ufffd bytes", "to everyone"]
    assert [m["text"] for m in stored(tmp_path / "state.db", "message")] == texts
    assert "Traceback" not in run.proc.stderr.read()


def test_stdin_closed_with_a_question_pending_says_so_once_and_goes_on(tmp_path):
    (tmp_path / "team.yaml").write_text(TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run.send({"type": "message", "to": "coder", "text": "start"})
    run.until(lambda e: e["type"] == "interrupt", answer=False)
    run.proc.stdin.close()
    line = run.proc.stderr.readline()
    while "stdin is closed" not in line:
        line = run.proc.stderr.readline()
        assert line, "no word about the closed stdin"
    assert "i1" in line and "--resume" in line
    assert run.proc.poll() is None  # it keeps running
    run.proc.terminate()
    assert run.proc.wait(30) == 1
    assert run.proc.stderr.read().count("stdin is closed") == 0  # said once


FLOOD_TEAM = """\
name: flood
sandbox: {backend: local}
defaults: {model: scripted}
agents:
  - id: a
    script:
      - {tool: run_command, args: {command: "seq 1 200000"}}
      - {tool: run_command, args: {command: "sleep 60"}}
"""


def test_headless_piped_to_head_stops_the_run_quietly(tmp_path):
    (tmp_path / "team.yaml").write_text(FLOOD_TEAM)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        f"{sys.executable} -m tui team.yaml --headless --db s.db < /dev/null | head -1; "
        "echo status=${PIPESTATUS[0]} >&2",
        shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
        executable="/bin/bash")
    assert len(proc.stdout.splitlines()) == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "status=141" in proc.stderr
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT status FROM runs").fetchone() == ("stopped",)
    conn.close()


async def test_a_models_lone_surrogates_reach_no_tool_and_no_store(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "memory_file": "mem.md", "script": [
        step("write_file", path="f.txt", content="bad \ud800 text"),
        step("run_command", command="printf 'out \\377\\376 put'; echo '\udcff'"),
        step("report_progress", text="progress \udfff"),
        step("update_memory", text="note \ud800"),
    ]}])
    engine, watcher, store = await run_to_end(team, tmp_path)
    await store.close()
    assert engine.status == "finished"
    assert (tmp_path / ".agentorch/workspaces/a/f.txt").read_text() == "bad \ufffd text"
    results = watcher.results("a")
    assert all(not r["is_error"] for r in results), results
    assert "out \ufffd\ufffd put" in results[1]["result"]["output"]
    assert "\ufffd" in (tmp_path / "mem.md").read_text()
    for event in watcher.events:
        event.to_json().encode("utf-8")  # strict: everything is encodable
    assert len(stored(tmp_path / "state.db")) == len(watcher.events)


def test_a_model_emitting_lone_surrogate_escapes_changes_nothing_but_the_text(tmp_path):
    """The fake Messages API sends JSON "\\ud800" escapes in text and in tool input."""
    import asyncio

    from engine_support import make_team
    from fake_anthropic import FakeAnthropic, Turn, claude_agent, text, tool

    with FakeAnthropic() as api:
        os.environ["ANTHROPIC_API_KEY"] = "sk-ant-test"
        os.environ["ANTHROPIC_BASE_URL"] = api.base_url
        try:
            api.push("coder", Turn([text("thinking \ud800 aloud"),
                                    tool("write_file", path="f.txt", content="x \udfff y")]),
                     Turn([tool("finish", summary="done \ud83d")]))
            team = make_team(tmp_path, [claude_agent("coder", sandbox_path="ws")])
            engine, watcher, store = asyncio.run(_run(team, tmp_path))
        finally:
            del os.environ["ANTHROPIC_BASE_URL"]
    assert engine.status == "finished", [(e.type, str(e.data)[:300]) for e in watcher.events
                                         if e.type in ("agent_status", "tool_result", "error")]
    assert (tmp_path / "ws" / "f.txt").read_text() == "x \ufffd y"
    said = "".join(e.data["text"] for e in watcher.events if e.type == "assistant_text")
    assert said == "thinking \ufffd aloud"
    assert engine.agents["coder"].summary == "done \ufffd"
    for event in watcher.events:
        event.to_json().encode("utf-8")
    assert len(stored(tmp_path / "state.db")) == len(watcher.events)


async def _run(team, tmp_path):
    engine, watcher, store = await run_to_end(team, tmp_path)
    await store.close()
    return engine, watcher, store


def test_the_demo_without_git_says_so_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(tmp_path / "no-bin")}
    done = subprocess.run([sys.executable, "-m", "tui", "--demo", "--headless"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "the demo needs git for its throwaway repository: git is not installed" in done.stderr
