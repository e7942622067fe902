"""The orchestrator's board tools over real stdio: assign_task and get_task_result on a team
with a `workflow:` (a task added by the MCP caller runs like the plan's own)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from engine_support import Watcher, step
from test_mcp_stdio import call, mcp_stdio
from workflow_support import one_task, planner, wait, workflow_team

from engine.run import Engine
from engine.service.control_socket import ControlServer
from memory.store import Store

pytestmark = pytest.mark.timeout(120)


async def test_assign_task_puts_a_task_on_the_board_and_its_result_comes_back(tmp_path):
    team = workflow_team(tmp_path, [
        planner(one_task("t1", "coder")),
        {"id": "coder", "script": [wait(), wait(), step("submit_task", task_id="t1", summary="t1 ok"),
                                   wait()]},
        {"id": "writer", "script": [wait(), step("submit_task", task_id="o1",
                                                 summary="wrote the changelog"), wait()]},
    ])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, auto_approve=True)
    engine.control = ControlServer(engine, directory=Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp")))
    w = Watcher(engine)
    await engine.start()
    try:
        await w.wait_for("task", task_id="t1", state="running")
        async with mcp_stdio(str(tmp_path / "state.db"), "--run", "last") as mcp:
            names = [t.name for t in (await mcp.list_tools()).tools]
            assert "assign_task" in names and "get_task_result" in names
            added, err = await call(mcp, "assign_task", agent="writer", title="changelog",
                                    description="write CHANGELOG.md")
            assert not err and added == {"task_id": "o1", "state": "running", "assignee": "writer"}
            await w.wait_for("task", task_id="o1", state="done")
            result, err = await call(mcp, "get_task_result", task_id="o1")
            assert not err and result["state"] == "done"
            assert result["summary"] == "wrote the changelog" and result["assignee"] == "writer"
            refused, err = await call(mcp, "assign_task", agent="nobody", title="x")
            assert err and "unknown agent 'nobody'" in refused["error"]
            missing, err = await call(mcp, "get_task_result", task_id="zz")
            assert err and "no task 'zz'" in missing["error"]
        note = await w.wait_for("notice", task="o1")
        assert note.data["via"].startswith("mcp (pid ")
        await engine.send_user_message("coder", "go on")
        await w.wait_for("task", task_id="t1", state="done")
    finally:
        await engine.stop()
        await store.close()


async def test_an_agent_created_at_run_time_gets_its_own_served_socket(tmp_path):
    import json

    from mcp_support import agent_session, content_of

    from engine.service.agent_socket import AgentViews

    script = json.dumps([wait(), wait()])
    team = workflow_team(tmp_path, [
        {"id": "planner", "script": [
            wait(), step("create_agent", id="helper", role="helper", instructions=script),
            step("create_tasks", tasks=[one_task("t1", "helper")]), wait()]},
        {"id": "coder", "script": [wait()]}], max_agents=1)
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    views = engine.agent_views = AgentViews(
        engine, directory=Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp")))
    w = Watcher(engine)
    await engine.start()
    try:
        approval = await w.wait_for("interrupt", "planner", kind="plan_approval")
        await engine.handle_command({"type": "approve", "interrupt": approval.data["id"]})
        await w.wait_for("agent_status", "helper", status="waiting_message")
        async with agent_session(views.socket_of("helper")) as session:
            names = [t.name for t in (await session.list_tools()).tools]
            assert "submit_task" in names and "create_agent" not in names
            done = await session.call_tool("report_progress", {"text": "helper here"})
            assert not done.is_error, content_of(done)
        report = await w.wait_for("interrupt", kind="progress_report", prompt="helper here")
        assert report.agent == "helper"
    finally:
        await engine.stop()
        await store.close()
