"""`agentorch-tui mcp` over real stdio, driven by the mcp SDK's own client, against a running
scripted team (its control socket and its agents' sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

import pytest
from engine_support import Watcher, make_team, step
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_support import content_of

from engine.run import Engine
from engine.service.agent_socket import AgentViews
from engine.service.control_socket import ControlServer
from engine.service.mcp_permission import PERMISSION_TOOL
from memory.store import Store

CLI = str(Path(sys.executable).parent / "agentorch-tui")
ORCHESTRATOR = ["get_agents", "send_to_agent", "broadcast", "get_agent_messages",
                "get_interrupts", "update_shared_context", "get_shared_context"]


@contextlib.asynccontextmanager
async def running_team(tmp_path):
    team = make_team(tmp_path, [
        {"id": "lead", "direct_communication": ["dev"], "script": [
            step("wait_for_message", timeout=120), step("reply", text="pong from lead"),
            step("ask_user", question="Ship it?"), step("wait_for_message", timeout=120)]},
        {"id": "dev", "tools": ["send_message", "wait_for_message", "report_progress", "finish"],
         "direct_communication": ["lead"], "script": [step("wait_for_message", timeout=120)]},
        {"id": "ops", "script": [step("wait_for_message", timeout=120)]},
    ])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    short = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    (short / "agentorch").mkdir(mode=0o700)  # as $XDG_RUNTIME_DIR/agentorch
    engine.control = ControlServer(engine, directory=short / "agentorch")
    engine.agent_views = AgentViews(engine, directory=short / "a")
    watcher = Watcher(engine)
    await engine.start()
    try:
        engine.runtime_dir = short
        yield engine, watcher, str(tmp_path / "state.db")
    finally:
        await engine.stop()
        await store.close()


@contextlib.asynccontextmanager
async def mcp_stdio(db: str | None, *args: str, **where):
    params = StdioServerParameters(command=CLI, args=["mcp", *(["--db", db] if db else []), *args],
                                   **where)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, name: str, **args):
    result = await session.call_tool(name, args)
    return content_of(result), result.is_error


async def test_the_orchestrator_view_over_stdio(tmp_path):
    async with running_team(tmp_path) as (engine, w, db), mcp_stdio(db, "--run", "last") as mcp:
        names = [t.name for t in (await mcp.list_tools()).tools]
        assert names == ORCHESTRATOR  # no answer_interrupt without --allow-answers

        agents, err = await call(mcp, "get_agents")
        assert not err and [a["id"] for a in agents] == ["lead", "dev", "ops"]
        assert agents[1]["may_message"] == ["lead"] and "usage" in agents[0]

        got, err = await call(mcp, "send_to_agent", agent="lead", text="ping", wait_reply=True)
        assert not err and got["reply"]["text"] == "pong from lead"
        note = await w.wait_for("notice", message=got["id"])
        assert note.data["via"].startswith("mcp (pid ")  # who spoke for the person, on screen

        sent, err = await call(mcp, "broadcast", text="standup in 5")
        assert not err and sorted(sent["delivered_to"]) == ["dev", "lead", "ops"]

        msgs, err = await call(mcp, "get_agent_messages", agent="lead")
        assert [(m["from"], m["text"]) for m in msgs] == [
            ("user", "ping"), ("lead", "pong from lead"), ("user", "standup in 5")]
        later, _ = await call(mcp, "get_agent_messages", agent="lead", since=msgs[1]["id"])
        assert [m["text"] for m in later] == ["standup in 5"]

        question = await w.wait_for("interrupt", "lead", kind="user_input")
        pending, _ = await call(mcp, "get_interrupts")
        assert [(i["id"], i["agent"]) for i in pending] == [(question.data["id"], "lead")]

        version, err = await call(mcp, "update_shared_context", text="Freeze on Friday.")
        assert not err and version["version"] == 1 and version["by"].startswith("user via mcp")
        read, _ = await call(mcp, "get_shared_context")
        assert read["text"] == "Freeze on Friday."

        refused, err = await call(mcp, "send_to_agent", agent="nobody", text="hi")
        assert err and "unknown agent 'nobody'" in refused["error"]
        refused, err = await call(mcp, "answer_interrupt", interrupt=question.data["id"], text="y")
        assert err and "no tool 'answer_interrupt'" in refused["error"]


async def test_answers_only_with_allow_answers_and_they_name_the_caller(tmp_path):
    async with running_team(tmp_path) as (engine, w, db):
        await engine.handle_command({"type": "message", "to": "lead", "text": "go"})
        question = await w.wait_for("interrupt", "lead", kind="user_input")
        async with mcp_stdio(db, "--run", engine.run_id[:12], "--allow-answers") as mcp:
            assert "answer_interrupt" in [t.name for t in (await mcp.list_tools()).tools]
            done, err = await call(mcp, "answer_interrupt", interrupt=question.data["id"],
                                   text="Yes, ship it.")
            assert not err and done["as"] == "answer"
        answered = await w.wait_for("interrupt_answered", "lead", id=question.data["id"])
        assert answered.data["answer"]["text"] == "Yes, ship it."
        assert "mcp (pid " in str(answered.data["answer"])  # the answer names its client


async def test_an_agents_view_over_stdio_is_that_agent_and_nothing_more(tmp_path):
    async with running_team(tmp_path) as (engine, w, db), \
            mcp_stdio(db, "--run", "last", "--agent", "dev") as mcp:
        names = [t.name for t in (await mcp.list_tools()).tools]
        assert names == ["send_message", "wait_for_message", "report_progress", "finish",
                         PERMISSION_TOOL]
        sent, err = await call(mcp, "send_message", to="lead", text="hello lead")
        assert not err and sent["delivered_to"] == ["lead"]
        refused, err = await call(mcp, "send_message", to="ops", text="psst")
        assert err and "dev may not message ops" in refused["error"]
        for name in ("get_agents", "broadcast", "run_command", "answer_interrupt"):
            other, err = await call(mcp, name)
            assert err, name
        message = await w.wait_for("message", "dev", text="hello lead")
        assert message.data["recipients"] == ["lead"]


async def test_no_live_run_is_one_sentence(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        CLI, "mcp", "--db", str(tmp_path / "none.db"), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 1 and out == b""
    assert err.decode().strip() == (f"agentorch-tui mcp: no state database at {tmp_path}/none.db, "
                                    "so no run to attach to; pass --db")


pytestmark = pytest.mark.timeout(120)


async def test_started_elsewhere_without_a_database_it_finds_the_newest_live_run(tmp_path):
    import os

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with running_team(tmp_path) as (engine, w, db):
        env = {**os.environ, "XDG_RUNTIME_DIR": str(engine.runtime_dir)}
        async with mcp_stdio(None, "--run", "last", env=env, cwd=str(elsewhere)) as mcp:
            agents, err = await call(mcp, "get_agents")
            assert not err and [a["id"] for a in agents] == ["lead", "dev", "ops"]
