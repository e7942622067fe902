"""A task that fails review max_attempts times is blocked, and each answer of the
person works: retry with a note, reassign, skip, cancel (interrupt or headless command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import events as ev
from tests.engine_support import start, step
from tests.workflow_support import (
    last_task,
    one_task,
    planner,
    task_states,
    wait,
    workflow_team,
)

SUBMIT = step("submit_task", task_id="t1", summary="did it")
CHANGES = step("review_task", task_id="t1", verdict="changes", feedback="not yet")
APPROVE = step("review_task", task_id="t1", verdict="approve", feedback="fine")


def team(tmp_path: Path, coder_tail: list, reviewer_tail: list, writer: list | None = None):
    agents = [
        planner(one_task()),
        {"id": "coder", "script": [wait(), SUBMIT, wait(), SUBMIT, *coder_tail,
                                   step("finish", summary="c")]},
        {"id": "reviewer", "script": [wait(), CHANGES, wait(), CHANGES, *reviewer_tail,
                                      step("finish", summary="r")]},
        {"id": "writer", "script": [*(writer or []), step("finish", summary="w")]},
    ]
    return workflow_team(tmp_path, agents, reviewer="reviewer", max_attempts=2)


async def blocked(engine, watcher):
    intr = await watcher.wait_for(ev.INTERRUPT, kind="task_blocked", timeout=30)
    assert last_task(watcher, "t1")["state"] == "blocked"
    assert task_states(watcher, "t1")[-1] == ("blocked", 2)
    assert intr.data["options"] == ["retry", "reassign", "skip", "cancel"]
    assert "failed 2 attempts" in intr.data["prompt"] and "not yet" in intr.data["prompt"]
    return intr


async def test_retry_with_a_note_gives_one_more_attempt(tmp_path: Path) -> None:
    engine, watcher, store = await start(
        team(tmp_path, [wait(), SUBMIT], [wait(), APPROVE]), tmp_path, auto_approve=True)
    intr = await blocked(engine, watcher)
    with pytest.raises(Exception, match="answer a blocked task with retry"):
        await engine.answer(intr.data["id"], "maybe later")  # not a choice: still pending
    await engine.answer(intr.data["id"], "retry: mind the edge case")
    await watcher.wait_for(ev.WORKFLOW, phase="done", timeout=30)
    assert task_states(watcher, "t1")[-3:] == [("running", 3), ("review", 3), ("done", 3)]
    note = [e.data["text"] for e in watcher.events if e.type == ev.MESSAGE
            and e.data.get("task_id") == "t1" and e.data.get("attempt") == 3][0]
    assert "mind the edge case" in note
    await engine.wait()
    await store.close()


async def test_reassign_by_headless_command_gives_the_task_to_another_agent(tmp_path: Path) -> None:
    writer = [wait(), step("submit_task", task_id="t1", summary="mine now")]
    engine, watcher, store = await start(team(tmp_path, [], [wait(), APPROVE], writer),
                                         tmp_path, auto_approve=True)
    await blocked(engine, watcher)
    with pytest.raises(Exception, match="unknown agent 'nobody'"):
        await engine.handle_command({"type": "task", "action": "reassign", "task": "t1",
                                     "agent": "nobody"})
    await engine.handle_command({"type": "task", "action": "reassign", "task": "t1",
                                 "agent": "writer", "text": "take over"})
    await watcher.wait_for(ev.WORKFLOW, phase="done", timeout=30)
    final = last_task(watcher, "t1")
    assert final["state"] == "done" and final["assignee"] == "writer"
    assert final["summary"] == "mine now"
    await engine.wait()
    await store.close()


async def test_skip_lets_the_workflow_end(tmp_path: Path) -> None:
    engine, watcher, store = await start(team(tmp_path, [], [wait()]), tmp_path,
                                         auto_approve=True)
    intr = await blocked(engine, watcher)
    await engine.handle_command({"type": "answer", "interrupt": intr.data["id"], "text": "skip"})
    await watcher.wait_for(ev.WORKFLOW, phase="done", timeout=30)
    assert last_task(watcher, "t1")["state"] == "skipped"
    await engine.stop()
    await store.close()


async def test_a_blocked_task_whose_team_has_ended_stops_the_workflow(tmp_path: Path) -> None:
    engine, watcher, store = await start(team(tmp_path, [], []), tmp_path, auto_approve=True)
    assert await engine.wait() == "finished"
    stopped = [e.data for e in watcher.events if e.type == ev.WORKFLOW][-1]
    assert stopped["phase"] == "stopped" and "t1 (blocked)" in stopped["reason"]
    await store.close()


async def test_cancel_cancels_the_tasks_and_stops_the_run(tmp_path: Path) -> None:
    engine, watcher, store = await start(team(tmp_path, [wait()], [wait()]), tmp_path,
                                         auto_approve=True)
    intr = await blocked(engine, watcher)
    await engine.answer(intr.data["id"], "cancel")
    assert await engine.wait() == "stopped"
    assert last_task(watcher, "t1")["state"] == "cancelled"
    assert [e.data["phase"] for e in watcher.events if e.type == ev.WORKFLOW][-1] == "stopped"
    await store.close()
