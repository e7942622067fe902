"""The plan phase: bad plans are the planner's tool errors, the checker's revisions are
bounded, the person's approval expires, create_agent is bounded and never widens rights,
and a bad `workflow:` section is a FILE:LINE error of `check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import events as ev
from engine.cli import main
from engine.workflow.flow import Workflow
from tests.engine_support import run_to_end, start, step
from tests.workflow_support import errors, one_task, planner, wait, workflow_team


async def test_a_bad_plan_is_a_tool_error_the_planner_sees_and_revises(tmp_path: Path) -> None:
    bad = [
        [one_task("a"), one_task("a")],
        [one_task("a", assignee="ghost")],
        [one_task("a", assignee=None, role="poet")],
        [one_task("a", depends_on=["b"]), one_task("b", depends_on=["a"])],
        [one_task("a", depends_on=["zzz"])],
        [one_task("a/../x")],
    ]
    script = [wait(), *(step("create_tasks", tasks=p) for p in bad),
              step("create_tasks", tasks=[one_task("ok")]), wait(),
              step("finish", summary="p")]
    agents = [{"id": "planner", "script": script},
              {"id": "coder", "type": "coder", "script": [
                  wait(), step("submit_task", task_id="ok", summary="s"),
                  step("finish", summary="c")]}]
    engine, watcher, store = await run_to_end(workflow_team(tmp_path, agents), tmp_path,
                                              auto_approve=True)
    await store.close()
    got = errors(watcher, "planner")
    assert len(got) == 6
    assert "duplicate task id 'a'" in got[0]
    assert "unknown assignee 'ghost'" in got[1] and "coder" in got[1]
    assert "no agent has the role 'poet'" in got[2] and "coder" in got[2]
    assert "cycle: a -> b -> a" in got[3]
    assert "depends on 'zzz', which is not in the plan" in got[4]
    assert "bad id 'a/../x'" in got[5]
    assert [e.data["phase"] for e in watcher.events if e.type == ev.WORKFLOW][-1] == "done"


async def test_a_plan_revised_max_attempts_times_stops_the_run_clearly(tmp_path: Path) -> None:
    create = step("create_tasks", tasks=[one_task()])
    revise = step("validate_plan", verdict="revise", feedback="too vague")
    agents = [{"id": "planner", "script": [wait(), create, wait(), create, wait()]},
              {"id": "checker", "script": [wait(), revise, wait(), revise, wait()]},
              {"id": "coder", "script": [wait()]}]
    engine, watcher, store = await run_to_end(
        workflow_team(tmp_path, agents, checker="checker", max_attempts=2), tmp_path)
    await store.close()
    assert engine.status == "stopped"
    last = [e.data for e in watcher.events if e.type == ev.WORKFLOW][-1]
    assert last["phase"] == "stopped"
    assert last["reason"] == ("the plan was revised 2 times (workflow.max_attempts) without "
                              "being approved; last: the checker asks for a revision: too vague")
    finished = watcher.find(ev.RUN_FINISHED)[0].data
    assert "revised 2 times" in finished["reason"]


async def test_the_person_rejecting_the_plan_sends_it_back_to_the_planner(tmp_path: Path) -> None:
    create = step("create_tasks", tasks=[one_task()])
    agents = [{"id": "planner", "script": [wait(), create, wait(), create, wait()]},
              {"id": "coder", "script": [wait(30)]}]
    engine, watcher, store = await start(workflow_team(tmp_path, agents), tmp_path)
    first = await watcher.wait_for(ev.INTERRUPT, kind="plan_approval")
    assert first.data["tasks"][0]["task_id"] == "t1" and first.data["workflow"] is True
    await engine.reject(first.data["id"], "split it in two")
    await watcher.wait_for(ev.WORKFLOW, phase="planning", attempt=2)
    second = await watcher.wait_for(ev.INTERRUPT, kind="plan_approval", id="i2")
    revise = [e.data["text"] for e in watcher.events if e.type == ev.MESSAGE
              and e.data.get("purpose") == "revise"]
    assert "the person rejected it: split it in two" in revise[0]
    await engine.approve(second.data["id"], steps=["t1: do it carefully (coder, order 0)"])
    await watcher.wait_for(ev.WORKFLOW, phase="running")
    assert [e.data for e in watcher.events if e.type == ev.TASK][0]["title"] == "do it carefully"
    await engine.stop()
    await store.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_268_800.0

    def __call__(self) -> float:
        return self.now


async def test_the_plan_approval_expires_by_the_clock(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Workflow, "tick", 0.01)
    clock = Clock()
    agents = [planner(one_task()), {"id": "coder", "script": [wait()]}]
    team = workflow_team(tmp_path, agents, approval_timeout="2h")
    engine, watcher, store = await start(team, tmp_path, clock=clock)
    intr = await watcher.wait_for(ev.INTERRUPT, kind="plan_approval")
    clock.now += 2 * 3600 - 1
    await watcher.wait_for(ev.AGENT_STATUS, "planner", status="waiting_message")
    assert not watcher.find(ev.INTERRUPT_ANSWERED)  # not yet
    clock.now += 2
    answered = await watcher.wait_for(ev.INTERRUPT_ANSWERED, id=intr.data["id"])
    assert answered.data["answer"]["expired"] is True
    assert await engine.wait() == "stopped"
    last = [e.data for e in watcher.events if e.type == ev.WORKFLOW][-1]
    assert last["phase"] == "stopped" and "waited 2h for approval" in last["reason"]
    assert "expired" in watcher.find(ev.RUN_FINISHED)[0].data["reason"]
    await store.close()


async def test_create_agent_is_bounded_and_never_widens_rights(tmp_path: Path) -> None:
    script = json.dumps([{"tool": "finish", "args": {"summary": "x"}}])

    def create(agent_id: str, **more) -> dict:
        return step("create_agent", id=agent_id, role="tester", instructions=script, **more)

    agents = [{"id": "planner", "approval": "risky", "tools": [
        "wait_for_message", "create_agent", "create_tasks", "finish", "run_command"], "script": [
        wait(),
        create("t1", approval="never"),  # looser than risky
        create("t2", tools=["write_file"]),  # a tool the planner lacks
        create("coder"),  # taken
        create("t3"),
        create("t4"),  # past max_agents
        step("finish", summary="p")]},
        {"id": "coder", "script": []}]
    engine, watcher, store = await run_to_end(workflow_team(tmp_path, agents, max_agents=1),
                                              tmp_path)
    await store.close()
    got = errors(watcher, "planner")
    assert len(got) == 4, got
    assert "approval 'never' is looser than planner's (risky)" in got[0]
    assert "planner may not use write_file, so neither may its agent" in got[1]
    assert "the id 'coder' is taken" in got[2]
    assert ("this run may create at most 1 agents (workflow.max_agents) and 1 are already "
            "created or proposed") in got[3]
    proposed = [e.data for e in watcher.events if e.type == ev.WORKFLOW][-1]["proposed_agents"]
    assert [a["id"] for a in proposed] == ["t3"] and proposed[0]["approval"] == "risky"


def test_a_bad_workflow_section_is_a_file_line_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "team.yaml").write_text(
        "sandbox: {backend: local}\n"
        "workflow:\n"
        "  goal: g\n"
        "  planner: plannr\n"
        "  checker: critic\n"
        "  reviewer: a\n"
        "  max_attempts: -1\n"
        "agents:\n"
        "  - {id: a, model: scripted, script: [], tools: [finish]}\n")
    assert main(["check", str(tmp_path / "team.yaml")]) == 2
    out = capsys.readouterr().out
    path = tmp_path / "team.yaml"
    assert f"{path}:7: workflow.max_attempts: Input should be greater than or equal to 1" in out
    assert f"{path}:4: workflow.planner: unknown agent 'plannr'; agents: a" in out
    assert f"{path}:5: workflow.checker: unknown agent 'critic'" in out
    assert f"{path}:6: workflow.reviewer: a is the reviewer but its `tools` list lacks review_task" in out
    assert "Traceback" not in out


def test_goal_on_the_command_line_needs_a_workflow(tmp_path: Path, capsys) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("agents:\n  - {id: a, model: scripted, script: []}\n")
    assert main([str(plain), "--headless", "--goal", "x", "--db", str(tmp_path / "s.db")]) == 2
    assert "--goal needs a team with `workflow:`" in capsys.readouterr().err


async def test_without_a_goal_the_planner_is_told_to_ask_the_person(tmp_path: Path) -> None:
    team = workflow_team(tmp_path, [{"id": "planner", "script": [wait(), step("finish", summary="p")]}],
                         goal=None)
    engine, watcher, store = await run_to_end(team, tmp_path)
    await store.close()
    brief = watcher.results("planner")[0]["result"]["text"]
    assert brief.startswith("No goal was given: ask the person what the team should achieve")


async def test_the_person_can_approve_the_plan_with_its_tasks_edited(tmp_path: Path) -> None:
    agents = [planner(one_task("a"), one_task("b", order=1)),
              {"id": "coder", "script": [wait(30)]},
              {"id": "writer", "script": [wait(), step("submit_task", task_id="b", summary="s"),
                                          step("finish", summary="w")]}]
    engine, watcher, store = await start(workflow_team(tmp_path, agents), tmp_path)
    plan = await watcher.wait_for(ev.INTERRUPT, kind="plan_approval")
    edited = [{"id": "b", "title": "do b first", "description": "it", "assignee": "writer"}]
    with pytest.raises(Exception, match="the edited plan cannot run: task 'b': unknown assignee"):
        await engine.handle_command({"type": "approve_plan", "interrupt": plan.data["id"],
                                     "tasks": [{**edited[0], "assignee": "ghost"}]})
    await engine.handle_command({"type": "approve_plan", "interrupt": plan.data["id"],
                                 "tasks": edited})
    await watcher.wait_for(ev.WORKFLOW, phase="done")
    board = [e.data for e in watcher.events if e.type == ev.TASK]
    assert {t["task_id"] for t in board} == {"b"}
    assert board[-1]["title"] == "do b first" and board[-1]["assignee"] == "writer"
    await engine.stop()
    await store.close()
