"""Agents the planner creates at run time (create_agent).

A proposal waits for the person: the agents start only once the plan that lists them is
approved (never by --auto-approve).  A created agent has no more rights than its
creator: no looser `approval`, no tool its creator lacks, the creator's network, image,
resources and environment.  It is recorded in the run (`agents` and the run's meta
`created_agents`) so a resumed run, even after kill -9, has it again.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine import events as ev
from engine.brains.base import Peer
from engine.config import AgentConfig
from engine.messaging import USER, Inbox
from engine.remote_docker import agent_remote_problem
from engine.workflow import board as b

if TYPE_CHECKING:
    from engine.agent import AgentRuntime
    from engine.run import Engine
    from engine.workflow.flow import Workflow

COMMAND_RANK = {"never": 0, "risky": 1, "always": 2}
RESERVED = frozenset({"workflow", "engine", "user", "all"})


def _refuse(text: str) -> Exception:
    from engine.workflow.flow import WorkflowError

    return WorkflowError(f"create_agent refused: {text}")


async def propose_agent(wf: Workflow, creator_id: str, args: dict[str, Any],
                        call_id: str | None) -> dict:
    agent_id = args["id"]
    if call_id is not None and wf.by_call == call_id:
        return {"proposed": agent_id, "note": "it starts once the person approves the plan"}
    if creator_id != wf.config.planner:
        raise _refuse(f"only the planner ({wf.config.planner}) may create agents")
    if wf.phase != b.PLANNING:
        raise _refuse(f"agents are proposed with the plan, before create_tasks (phase {wf.phase})")
    count = len(wf.proposed) + len(wf.created)
    if count >= wf.config.max_agents:
        raise _refuse(f"this run may create at most {wf.config.max_agents} agents "
                      f"(workflow.max_agents) and {count} are already created or proposed")
    if agent_id in wf.assignable() or agent_id.lower() in RESERVED:
        raise _refuse(f"the id {agent_id!r} is taken; choose another")
    creator = wf.engine.team.agent(creator_id)
    data = agent_data(creator, args)
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "agent"
        raise _refuse(f"{field}: {err['msg'].removeprefix('Value error, ')}") from None
    problem = remote_refusal(wf.engine, config, backend_of(wf.engine, creator_id))
    if problem is not None:
        raise _refuse(problem)
    wf.proposed.append(data)
    await wf._set_phase(wf.phase, by_call=call_id)
    return {"proposed": agent_id, "note": "it starts once the person approves the plan"}


def backend_of(engine: Engine, creator_id: str) -> str:
    """A created agent's backend: its creator's."""
    return engine.backends.get(creator_id) or next(iter(engine.backends.values()), "local")


def remote_refusal(engine: Engine, config: AgentConfig, backend: str) -> str | None:
    """What a remote Docker daemon cannot run of ``config`` (the sentence a start gives,
    engine/remote_docker.py), or None.  A created agent inherits its creator's network and
    backend and gets no CLI brain, so today its creator was refused first; judged again
    so that this holds whatever create_agent may set."""
    if backend != "docker" or not engine.remote_docker:
        return None
    return agent_remote_problem(engine.team, config)


def agent_data(creator: AgentConfig, args: dict[str, Any]) -> dict[str, Any]:
    """The new agent's configuration, with no more rights than ``creator``."""
    model = args.get("model") or creator.model or "scripted"
    approval = args.get("approval") or creator.approval
    modes = frozenset([approval] if isinstance(approval, str) else approval or ["never"])
    if creator.needs_plan and "plan" not in modes:
        raise _refuse(f"{creator.id} works with approval: plan; a created agent must too")
    mine = max((COMMAND_RANK.get(m, 0) for m in modes), default=0)
    if mine < COMMAND_RANK[creator.command_approval]:
        raise _refuse(f"approval {approval!r} is looser than {creator.id}'s "
                      f"({creator.approval_text})")
    tools = args.get("tools")
    if tools is not None:
        extra = sorted(set(tools) - set(creator.allowed_tools()) - {"submit_task"})
        if extra:
            raise _refuse(f"{creator.id} may not use {', '.join(extra)}, so neither may its agent")
    else:
        tools = creator.tools
    data: dict[str, Any] = {
        "id": args["id"], "type": args["role"],
        "description": f"{args['role']} (created by {creator.id} at run time)",
        "model": model, "approval": approval, "tools": tools,
        "image": creator.image, "backend": creator.backend,
        "network": creator.model_dump(mode="json")["network"],  # rules as data: it is recorded
        "pass_env": creator.pass_env, "direct_communication": [creator.id],
        "resources": creator.resources.model_dump() if creator.resources else None,
        "budget": creator.budget.model_dump() if creator.budget else None,
        "initial_instructions": args["instructions"],
    }
    if (model or "scripted") == "scripted":  # offline teams: the instructions are the script
        try:
            data["script"] = json.loads(args["instructions"])
        except ValueError:
            raise _refuse("a scripted agent's instructions are its script: a JSON list of "
                          "{tool, args} steps") from None
    return {k: v for k, v in data.items() if v is not None}


def add_to_team(engine: Engine, config: AgentConfig) -> None:
    """Make ``config`` one of the run's agents (its inbox, topology, roster)."""
    team, post = engine.team, engine.post
    if team.has_agent(config.id):
        return
    team.agents.append(config)
    engine.roster.append(Peer(config.id, config.type or "", config.description or ""))
    post.inboxes[config.id] = Inbox()
    post._allowed[config.id] = team.recipients_of(config)  # noqa: SLF001
    post._allowed[USER].append(config.id)  # noqa: SLF001
    post._ids = frozenset(team.agent_ids)  # noqa: SLF001


async def start_created(wf: Workflow, data: dict[str, Any]) -> None:
    """The person approved the plan: start the agent ``data`` describes (once)."""
    engine = wf.engine
    config = AgentConfig.model_validate(data)
    if config.id in engine.agents:
        return
    from engine.agent import AgentRuntime
    from engine.brains import make_brain
    from sandboxes import create_sandbox

    creator = data.get("direct_communication", [wf.config.planner])[0]
    backend = backend_of(engine, creator)
    problem = remote_refusal(engine, config, backend)
    if problem is not None:  # judged again at its start: nothing of it is added
        await engine.emit(ev.NOTICE, level="error", agent_not_created=config.id,
                          text=f"agent {config.id} was not created: {problem}")
        return
    add_to_team(engine, config)
    engine.backends[config.id] = backend
    wf.created.append(data)
    run_id = engine.run_id
    engine.store.execute_group([
        ("INSERT OR REPLACE INTO agents (run_id, id, status) VALUES (?,?,?)",
         (run_id, config.id, ev.PENDING)),
        ("UPDATE runs SET agents=?, meta=json_set(COALESCE(meta, '{}'), '$.created_agents', "
         "json(?)) WHERE id=?", (json.dumps(engine.team.agent_ids), json.dumps(wf.created), run_id)),
    ])
    await engine.emit(ev.NOTICE, level="info", agent_created=config.id,
                      text=f"{creator} created agent {config.id} ({config.type}); "
                           "you approved it with the plan")
    await engine.durable()
    if engine.workspaces is not None:
        await engine.workspaces.prepare({config.id: backend})
    sandbox = create_sandbox(engine.sandbox_spec(config, backend))
    rt = AgentRuntime(engine, config, sandbox, make_brain(config, engine.team))
    engine.agents[config.id] = rt
    grant_tools(engine, [rt])
    await sandbox.start()
    if engine.status == "running" and not engine._stopping:  # else: started with the others
        rt.task = asyncio.create_task(rt.run(), name=f"agent-{config.id}")


def restore_created(engine: Engine) -> None:
    """A resumed run: the agents created before it stopped are in the team again."""
    state = engine.pending_resume
    meta = json.loads(state.run.get("meta") or "{}") if state is not None else {}
    created = list(meta.get("created_agents") or [])
    for data in created:
        add_to_team(engine, AgentConfig.model_validate(data))
    if engine.workflow is not None:
        engine.workflow.created = created


def team_file_json(engine: Engine) -> str:
    """The team as its file says, without the agents created at run time (recorded apart
    in the run's meta `created_agents`)."""
    ids = {a["id"] for a in engine.workflow.created} if engine.workflow is not None else set()
    created = {i for i, a in enumerate(engine.team.agents) if a.id in ids}
    return engine.team.model_dump_json(exclude={"agents": created} if created else None)


def grant_tools(engine: Engine, runtimes: list[AgentRuntime] | None = None) -> None:
    """A team with `workflow:` gives its tools to the roles that use them (an agent that
    lists its `tools` itself keeps exactly those)."""
    from engine.tools import TOOL_SPECS

    wf = engine.team.workflow
    if wf is None:
        return
    for rt in runtimes if runtimes is not None else list(engine.agents.values()):
        if rt.config.tools is not None:
            continue
        more = ["submit_task"]
        if rt.agent_id == wf.planner:
            more += ["create_tasks", "create_agent"]
        if rt.agent_id == wf.checker:
            more.append("validate_plan")
        if rt.agent_id == wf.reviewer:
            more.append("review_task")
        rt.tools = [*rt.tools, *(TOOL_SPECS[n] for n in more)]
        rt.allowed_tool_names = rt.allowed_tool_names | frozenset(more)
