"""Export of a recorded run: JSON lines and the markdown transcript of the demo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "tui"]
EXPECTED = Path(__file__).parent / "expected" / "demo_transcript.md"


def normalise(text: str) -> str:
    text = re.sub(r"\d{8}-\d{6}-[0-9a-f]{16}", "RUN_ID", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "TIME", text)
    return text


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """One finished demo run (local backend), answered like a person would."""
    cwd = tmp_path_factory.mktemp("demo")
    proc = subprocess.Popen([*CLI, "--demo", "--headless", "--auto-approve", "--backend", "local"],
                            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        event = json.loads(line)
        if event["type"] == "interrupt" and event["kind"] == "user_input":
            proc.stdin.write(json.dumps({"type": "answer", "interrupt": event["id"],
                                         "text": "ship it"}) + "\n")
            proc.stdin.flush()
        if event["type"] == "run_finished":
            break
    proc.stdin.close()
    assert proc.wait(60) == 0, proc.stderr.read()
    return cwd


def export(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "export", "last", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_markdown_transcript_of_the_demo_matches_the_committed_one(demo_run):
    proc = export(demo_run, "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    got = normalise(proc.stdout)
    if os.environ.get("AGENTORCH_UPDATE_EXPECTED") == "1":  # regenerate, review, commit
        EXPECTED.write_text(got)
    assert got == EXPECTED.read_text()


def test_jsonl_export_is_the_event_log(demo_run, tmp_path):
    out = tmp_path / "run.jsonl"
    proc = export(demo_run, "--format", "jsonl", "-o", str(out))
    assert proc.returncode == 0 and "wrote" in proc.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    listed = subprocess.run([*CLI, "events", "last"], cwd=demo_run, capture_output=True,
                            text=True).stdout
    assert out.read_text() == listed


def test_export_errors_are_clear(demo_run, tmp_path):
    proc = subprocess.run([*CLI, "export", "nope"], cwd=demo_run, capture_output=True, text=True)
    assert proc.returncode == 1 and "no run 'nope'" in proc.stderr
    proc = subprocess.run([*CLI, "export", "last"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "no state database" in proc.stderr
    proc = export(demo_run, "-o", str(tmp_path / "missing-dir" / "x.md"))
    assert proc.returncode == 1 and "cannot write" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_events_are_read_page_by_page_in_order(tmp_path):
    """`events` and the jsonl export stream a run from the database in pages, so a run
    of any length never has to fit in memory; the pages join up to the whole log."""
    from engine_support import make_team, run_to_end, step

    team = make_team(tmp_path, [{"id": "a", "script": [
        step("report_progress", text=f"step {n}") for n in range(12)]}])
    engine, _w, store = await run_to_end(team, tmp_path)
    whole = await store.events(engine.run_id)
    pages = [page async for page in store.iter_events(engine.run_id, batch=4)]
    assert len(pages) > 3 and all(len(p) <= 4 for p in pages)
    assert [row for page in pages for row in page] == whole
    await store.close()


def test_the_board_section_shows_each_tasks_last_state_attempts_and_result():
    """One row per task (its latest `task` event), in board order; the result is the
    summary of a done task and the reason of a blocked one; agent text stays one inert
    table cell. A run without `workflow:` has no board section."""
    from engine import events as ev
    from engine.export import export_markdown
    from engine.workflow.board import Task, task_event_data

    def task(seq: int, **fields) -> ev.Event:
        return ev.Event(ev.TASK, "r", seq, 1000.0 + seq, None, task_event_data(Task(**fields)))

    run = {"id": "r", "team": "t", "agents": ["coder"], "status": "stopped"}
    events = [
        ev.Event(ev.RUN_STARTED, "r", 1, 1000.0, None, {"backends": {"coder": "local"}}),
        ev.Event(ev.WORKFLOW, "r", 2, 1001.0, None, {"goal": "ship it", "phase": "running"}),
        task(3, task_id="b", title="second", order=2, assignee="coder"),
        task(4, task_id="a", title="first", state="running", assignee="coder"),
        task(5, task_id="a", title="first", state="done", attempt=2, assignee="coder",
             feedback="review: handle no name", summary="greets the world too"),
        task(6, task_id="b", title="second", order=2, state="blocked", attempt=3,
             assignee="coder", reason="merge | conflicts in \x1b[2Jx.txt"),
        ev.Event(ev.WORKFLOW, "r", 7, 1007.0, None,
                 {"goal": "ship it", "phase": "stopped", "reason": "a task is blocked"}),
    ]
    text = export_markdown(run, events)
    board = text.split("## Board\n", 1)[1].split("\n## ", 1)[0]
    assert board.strip().splitlines() == [
        "- Goal: “ship it”; phase: **stopped** (a task is blocked)",
        "",
        "| task | title | state | assignee | attempts | result |",
        "|---|---|---|---|---|---|",
        "| a | first | done | coder | 2 | greets the world too |",
        "| b | second | blocked | coder | 3 | merge \\| conflicts in ␛[2Jx.txt |",
    ]
    assert "\x1b" not in text
    plain = [e for e in events if e.type not in (ev.TASK, ev.WORKFLOW)]
    assert "## Board" not in export_markdown(run, plain)
