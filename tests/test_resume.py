"""kill -9 at chosen points, resume, and the final state equals an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from crash_support import (
    CLI,
    ROOT,
    check_final,
    final_state,
    resume,
    run_with_kills,
    setup,
    start,
)


def is_(type: str, agent: str | None = None, **fields):
    def pred(e: dict) -> bool:
        return e["type"] == type and (agent is None or e.get("agent") == agent) and \
            all(e.get(k) == v for k, v in fields.items())
    return pred


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """One run of the crash team without a kill (the tests on it only read it)."""
    cwd = tmp_path_factory.mktemp("uninterrupted")
    return cwd, run_with_kills(cwd, [])


def test_uninterrupted_run_is_the_reference(uninterrupted):
    cwd, run = uninterrupted
    assert check_final(final_state(cwd)) == []
    assert not any(e.get("restored") for e in run.events)


def test_kill_while_a_command_runs_reports_it_interrupted_and_goes_on(tmp_path):
    run = run_with_kills(tmp_path, [is_("console", "a", kind="output", text="start\n")])
    assert check_final(final_state(tmp_path)) == []
    first = next(e for e in run.events if e["type"] == "tool_result" and e["agent"] == "a")
    assert first["call_id"] == "a-1" and first["interrupted"] is True and first["is_error"]
    assert first["result"]["output"] == "start\n" and first["result"]["exit_code"] is None
    assert "was not repeated" in first["result"]["error"]


def test_kill_while_a_sync_request_waits_delivers_the_reply_once(tmp_path):
    run = run_with_kills(tmp_path, [is_("console", "b", kind="command")])
    assert check_final(final_state(tmp_path)) == []
    got = [e for e in run.events if e["type"] == "tool_result" and e["call_id"] == "a-2"]
    assert got[-1]["result"]["reply"]["text"] == "r1"
    # the request was not sent again after the restart
    assert not [e for e in run.events if e["type"] == "message" and e["text"] == "q1"]


def test_kill_with_an_interrupt_pending_shows_it_again_and_answers_once(tmp_path):
    setup(tmp_path)
    run = start(tmp_path)
    question = run.until(is_("interrupt", "a", kind="user_input"), answer=False)
    time.sleep(0.2)
    run.kill9()
    run2 = resume(tmp_path)
    again = run2.until(is_("interrupt", "a", kind="user_input"), answer=False)
    assert again["id"] == question["id"] and again["restored"] is True
    run2.send({"type": "answer", "interrupt": again["id"], "text": "yes"})
    assert run2.finish() == 0
    state = final_state(tmp_path)
    assert check_final(state) == []


def test_an_answer_given_before_the_crash_is_not_asked_again(tmp_path):
    run = run_with_kills(tmp_path, [is_("interrupt_answered", "a")])
    assert check_final(final_state(tmp_path)) == []
    assert not [e for e in run.events if e["type"] == "interrupt" and e["kind"] == "user_input"]


@pytest.mark.slow  # three kills in one run; the tests above kill once each
def test_several_crashes_in_one_run(tmp_path):
    run_with_kills(tmp_path, [is_("console", "a", kind="command"),
                              is_("console", "b", kind="command"),
                              is_("console", "a", kind="command", text="sleep 0.6")],
                   delay=0.05)
    assert check_final(final_state(tmp_path)) == []


def test_clean_stop_then_resume(tmp_path):
    setup(tmp_path)
    run = start(tmp_path)
    run.until(is_("console", "b", kind="command"))
    run.proc.terminate()
    assert run.proc.wait(30) == 1
    runs = subprocess.run([*CLI, "runs", "--db", "state.db"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert "stopped" in runs.stdout and "resumable" in runs.stdout
    run2 = resume(tmp_path)
    assert run2.finish() == 0
    assert check_final(final_state(tmp_path)) == []


def test_a_finished_run_cannot_be_resumed(uninterrupted):
    cwd, _run = uninterrupted
    proc = subprocess.run([*CLI, "--resume", "last", "--headless", "--db", "state.db"],
                          cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "nothing to resume" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([*CLI, "--resume", "nope", "--headless", "--db", "state.db"],
                          cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "no run 'nope'" in proc.stderr


TORN_WRITER = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from memory.store import Store

async def main():
    s = await Store.open(sys.argv[2])
    i = 0
    while True:
        for _ in range(2000):
            i += 1
            s.append_event("r", i, 0.0, "console", "a", json.dumps({"t": "x" * 200}))
        if i == 20000:
            print("go", flush=True)
        await asyncio.sleep(0)

asyncio.run(main())
"""


def test_torn_write_during_group_commit_keeps_the_committed_prefix(tmp_path):
    db = tmp_path / "t.db"
    proc = subprocess.Popen([sys.executable, "-c", TORN_WRITER, str(ROOT), str(db)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "go"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill mid-stream, once commits are flowing
        try:
            with sqlite3.connect(db, timeout=1) as peek:
                if peek.execute("SELECT COUNT(*) FROM events").fetchone()[0] >= 2000:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seqs = [s for (s,) in conn.execute("SELECT seq FROM events ORDER BY seq")]
    assert len(seqs) >= 2000
    assert seqs == list(range(1, len(seqs) + 1)), "a committed batch is missing or torn"
    assert all(json.loads(d) == {"t": "x" * 200} for (d,) in
               conn.execute("SELECT data FROM events ORDER BY seq DESC LIMIT 50"))


def test_runs_lists_resumable_runs(tmp_path):
    setup(tmp_path)
    run = start(tmp_path)
    run.until(is_("console", "a", kind="command"))
    time.sleep(0.15)
    run.kill9()
    out = subprocess.run([*CLI, "runs", "--db", "state.db"], cwd=tmp_path, capture_output=True,
                         text=True).stdout
    assert "crashed" in out and "resumable" in out


def test_resume_keeps_the_backend_and_auto_approve_it_started_with(tmp_path):
    (tmp_path / "team.yaml").write_text(
        "sandbox: {backend: auto}\n"
        "agents:\n"
        "  - id: a\n"
        "    model: scripted\n"
        "    approval: always\n"
        "    script:\n"
        "      - {tool: run_command, args: {command: 'sleep 1.5'}}\n"
        "      - {tool: run_command, args: {command: 'echo after'}}\n")
    from crash_support import HeadlessRun

    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db", "--backend", "local",
                       "--auto-approve"], tmp_path)
    run.until(is_("console", "a", kind="command"))
    time.sleep(0.2)
    run.kill9()
    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    started = resumed.until(is_("run_started"))
    assert started["backends"] == {"a": "local"} and started["resumed"] is True
    assert resumed.finish() == 0
    answered = [e for e in resumed.events if e["type"] == "interrupt_answered"]
    assert answered and all(e["answer"]["by"] == "auto-approve" for e in answered)


# -- a resumed run uses the configuration recorded at its start ---------------------------
GUARDED_TEAM = """\
name: guarded
sandbox: {backend: local}
agents:
  - id: a
    type: coder
    model: scripted
    approval: always
    script:
      - {tool: run_command, args: {command: "echo ran > ran.txt"}}
      - {tool: finish, args: {summary: done}}
"""


def crash_at_the_approval(tmp_path) -> dict:
    from crash_support import HeadlessRun

    (tmp_path / "team.yaml").write_text(GUARDED_TEAM)
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    asked = run.until(is_("interrupt", "a", kind="command_approval"))
    wait_until_stored(tmp_path / "state.db", asked["id"])
    run.kill9()
    return asked


def wait_until_stored(db, interrupt_id: str,
                      sql: str = "SELECT 1 FROM interrupts WHERE id=?", *params: str) -> None:
    """Until the interrupt (or what ``sql`` finds) is committed: stdout may be ahead."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                if conn.execute(sql, params or (interrupt_id,)).fetchone():
                    return
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    raise AssertionError(f"interrupt {interrupt_id} never reached {db}")


def resume_cli(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "--resume", "last", "--headless", "--db", "state.db", *extra],
                          cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def test_an_edited_team_file_is_refused_on_resume_and_nothing_runs(tmp_path):
    crash_at_the_approval(tmp_path)
    # what an agent with write access to the team file did in issue 10: no more approvals
    edited = GUARDED_TEAM.replace("approval: always", "approval: never").replace(
        "type: coder", "type: hacker")
    (tmp_path / "team.yaml").write_text(edited)
    proc = resume_cli(tmp_path)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert "changed since run" in proc.stderr and "--reload-config" in proc.stderr
    assert "agents.a.approval, agents.a.type" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".agentorch" / "workspaces" / "a" / "ran.txt").exists()


def test_a_file_that_no_longer_loads_is_refused_too(tmp_path):
    crash_at_the_approval(tmp_path)
    (tmp_path / "team.yaml").write_text("agents: [\n")
    proc = resume_cli(tmp_path)
    assert proc.returncode == 2 and "it no longer loads" in proc.stderr, proc.stderr


def test_a_cosmetic_edit_resumes_with_the_recorded_configuration(tmp_path):
    asked = crash_at_the_approval(tmp_path)
    (tmp_path / "team.yaml").write_text("# reformatted\n" + GUARDED_TEAM.replace(
        "    type: coder\n    model: scripted\n", "    model: scripted   # same\n    type: coder\n"))
    from crash_support import HeadlessRun

    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    again = resumed.until(is_("interrupt", "a", kind="command_approval"))
    assert again["id"] == asked["id"]  # still asks: approval: always was recorded
    resumed.send({"type": "approve", "interrupt": again["id"]})
    assert resumed.finish() == 0
    started = next(e for e in resumed.events if e["type"] == "run_started")
    assert started["types"] == {"a": "coder"}


def test_reload_config_resumes_with_the_edited_file_and_records_it(tmp_path):
    crash_at_the_approval(tmp_path)
    (tmp_path / "team.yaml").write_text(GUARDED_TEAM.replace("type: coder", "type: tester"))
    from crash_support import HeadlessRun

    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db",
                           "--reload-config"], tmp_path)
    started = resumed.until(is_("run_started"))
    assert started["types"] == {"a": "tester"}
    again = resumed.until(is_("interrupt", "a", kind="command_approval"))
    wait_until_stored(tmp_path / "state.db", again["id"],
                      "SELECT 1 FROM runs WHERE json_extract(meta, '$.team.agents[0].type')=?",
                      "tester")
    resumed.kill9()
    assert "resuming with the edited team file (agents.a.type)" in resumed.proc.stderr.read()
    # the configuration in effect is now the recorded one: no flag needed any more
    from crash_support import HeadlessRun as Again

    third = Again(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    third_asked = third.until(is_("interrupt", "a", kind="command_approval"))
    assert third_asked is not None, third.proc.stderr.read()
    assert third_asked["id"] == again["id"]
    third.kill9()


def test_a_run_recorded_without_its_configuration_resumes_with_the_file_and_says_so(tmp_path):
    crash_at_the_approval(tmp_path)
    with sqlite3.connect(tmp_path / "state.db") as conn:  # as an older version recorded it
        conn.execute("UPDATE runs SET meta=json_remove(meta, '$.team')")
    from crash_support import HeadlessRun

    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    again = resumed.until(is_("interrupt", "a", kind="command_approval"))
    resumed.send({"type": "approve", "interrupt": again["id"]})
    assert resumed.finish() == 0
    assert "recorded without its configuration" in resumed.proc.stderr.read()


def test_replay_shows_the_team_as_recorded_not_as_edited(tmp_path):
    from engine.cli import find_run_sync
    from engine.replay import team_of_run

    crash_at_the_approval(tmp_path)
    (tmp_path / "team.yaml").write_text(GUARDED_TEAM.replace("type: coder", "type: tester"))
    team = team_of_run(find_run_sync(str(tmp_path / "state.db"), "last"))
    assert team is not None and team.agent("a").type == "coder"
