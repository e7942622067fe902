"""The team workflow end to end: the scripted demo (real engine, real SQLite, local
sandboxes), the board's states and attempts, parallel tasks, order, and the plan phase."""

from __future__ import annotations

from pathlib import Path

from engine import events as ev
from engine.cli import demo_path
from engine.demo_repo import load_demo_team
from engine.workflow import board as b
from tests.engine_support import run_to_end


def task_states(watcher) -> list[tuple[str, str, int]]:
    return [(e.data["task_id"], e.data["state"], e.data["attempt"])
            for e in watcher.events if e.type == ev.TASK]


def history(watcher, task_id: str) -> list[tuple[str, int]]:
    return [(s, a) for t, s, a in task_states(watcher) if t == task_id]


async def run_demo(tmp_path: Path):
    team = load_demo_team(demo_path(), tmp_path / "demo")
    return await run_to_end(team, tmp_path, timeout=120, backend="local", auto_approve=True)


async def test_the_demo_goes_from_goal_to_reviewed_tested_work(tmp_path: Path) -> None:
    engine, watcher, store = await run_demo(tmp_path)
    await store.close()
    assert engine.status == "finished"
    phases = [(e.data["phase"], e.data["attempt"]) for e in watcher.events
              if e.type == ev.WORKFLOW]
    # the checker asks for one revision, then the plan goes to the person (auto-approved)
    assert [p for p, _ in phases if p != "approval"] == ["planning", "checking", "planning",
                                                          "checking", "running", "done"]
    assert ("planning", 2) in phases
    # the reviewer asks for changes once
    assert history(watcher, "greet") == [("todo", 1), ("running", 1), ("review", 1),
                                         ("running", 2), ("review", 2), ("qa", 2), ("done", 2)]
    assert history(watcher, "docs") == [("todo", 1), ("running", 1), ("review", 1), ("qa", 1),
                                        ("done", 1)]
    # QA fails once, then passes
    assert history(watcher, "test") == [("todo", 1), ("running", 1), ("review", 1), ("qa", 1),
                                        ("running", 2), ("review", 2), ("qa", 2), ("done", 2)]
    retry = next(e.data for e in watcher.events if e.type == ev.TASK
                 and e.data["task_id"] == "test" and e.data["attempt"] == 2)
    assert retry["feedback"] == "QA failed (exit 1)" and "FAIL: greet.sh Ada" in retry["qa_output"]
    changes = next(e.data for e in watcher.events if e.type == ev.TASK
                   and e.data["task_id"] == "greet" and e.data["attempt"] == 2)
    assert changes["feedback"] == "review: Handle a missing name: greet the world."
    done = b.fold_tasks([e.data for e in watcher.events if e.type == ev.TASK])
    assert {t.state for t in done.values()} == {"done"}
    assert done["test"].summary == "Fixed the expected text (the comma)."


async def test_same_order_tasks_overlap_and_later_orders_wait(tmp_path: Path) -> None:
    engine, watcher, store = await run_demo(tmp_path)
    await store.close()
    seq = {}
    for e in watcher.events:
        if e.type == ev.TASK:
            seq.setdefault((e.data["task_id"], e.data["state"]), e.seq)
    # greet and docs were both running before either left `running`
    assert seq[("docs", "running")] < seq[("greet", "review")]
    assert seq[("greet", "running")] < seq[("docs", "review")]
    # test (order 2, after greet and docs) started only once both were done
    assert seq[("test", "running")] > max(seq[("greet", "done")], seq[("docs", "done")])
    # every task event carries the full record of the contract
    data = next(e.data for e in watcher.events if e.type == ev.TASK)
    assert {"task_id", "title", "state", "attempt", "assignee", "order", "depends_on",
            "description", "acceptance", "feedback", "summary", "qa_output", "branch"} <= set(data)
    assert isinstance(data["attempt"], int) and isinstance(data["order"], int)


async def test_task_messages_reach_assignee_and_reviewer_without_a_topology(tmp_path: Path) -> None:
    engine, watcher, store = await run_demo(tmp_path)
    await store.close()
    for agent in ("coder", "writer", "reviewer"):  # none of them may message anyone
        assert engine.team.recipients_of(engine.team.agent(agent)) == []
    got = {(e.data["to"], e.data.get("purpose"), e.data.get("task_id"), e.data.get("attempt"))
           for e in watcher.events if e.type == ev.MESSAGE}
    assert ("coder", "task", "greet", 2) in got and ("reviewer", "review", "test", 2) in got
    review = next(e.data["text"] for e in watcher.events if e.type == ev.MESSAGE
                  and e.data.get("purpose") == "review" and e.data.get("task_id") == "greet")
    assert "greet.sh prints Hello, NAME!" in review and "review_task" in review
