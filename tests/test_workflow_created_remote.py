"""An agent the workflow creates at run time is held to what a remote Docker daemon can
run (engine/remote_docker.py), like the agents of the team file: network rules and CLI
brains in a container there are refused in the sentence a start gives."""

from __future__ import annotations

import json
from pathlib import Path

from engine import events as ev
from engine.config import AgentConfig
from engine.run import Engine
from engine.workflow.agents import remote_refusal
from memory.store import Store
from tests.engine_support import Watcher, step
from tests.workflow_support import errors, one_task, wait, workflow_team

SCRIPT = json.dumps([{"tool": "finish", "args": {"summary": "helped"}}])


async def test_network_rules_or_a_cli_brain_in_a_remote_container_are_refused(tmp_path: Path):
    team = workflow_team(tmp_path, [{"id": "planner"}, {"id": "coder"}])
    team.sandbox.remote = True
    store = await Store.open(tmp_path / "state.db")
    try:
        engine = Engine(team, store)
        rules = AgentConfig.model_validate({"id": "helper", "model": "scripted", "script": [],
                                            "network": {"allow": ["pypi.org"]}})
        cli = AgentConfig.model_validate({"id": "helper", "brain": "claude-code",
                                          "model": "claude-sonnet-4-5"})
        assert "agent helper's network rules (`network: {allow, deny}`) need the Docker daemon " \
               "on this machine" in (remote_refusal(engine, rules, "docker") or "")
        assert "agent helper (brain: claude-code) needs its settings and model socket" in (
            remote_refusal(engine, cli, "docker") or "")
        assert remote_refusal(engine, rules, "local") is None, "a local agent needs no daemon"
        team.sandbox.remote = False
        assert remote_refusal(Engine(team, store), rules, "docker") is None
    finally:
        await store.close()


async def test_a_planner_on_this_machine_creates_an_agent_on_a_remote_daemons_team(tmp_path):
    """The created agent inherits its creator's backend and network: a local planner with
    network rules (allowed there, unenforced) creates a local agent, which starts.  (Its
    rules were recorded as an object JSON cannot write: the approval raised TypeError and
    left the agent half added, the workflow stuck in `approval`.)"""
    team = workflow_team(tmp_path, [
        {"id": "planner", "backend": "local", "network": {"allow": ["pypi.org"]}, "script": [
            wait(), step("create_agent", id="helper", role="helper", instructions=SCRIPT),
            step("create_tasks", tasks=[one_task("t1", "helper")]), wait()]},
        {"id": "coder", "backend": "local", "script": [wait()]}], max_agents=1)
    team.sandbox.backend, team.sandbox.remote = "docker", True
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    w = Watcher(engine)
    await engine.start()
    try:
        approval = await w.wait_for("interrupt", "planner", kind="plan_approval")
        await engine.handle_command({"type": "approve", "interrupt": approval.data["id"]})
        await w.wait_for("agent_status", "helper", status="done")
        assert engine.backends["helper"] == "local"
        assert errors(w, "planner") == []
        assert not [e for e in w.events if e.type == ev.NOTICE and e.data.get("level") == "error"]
    finally:
        await engine.stop()
        await store.close()
