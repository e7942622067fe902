"""`agentorch-tui mcp`: an MCP server over stdio (the official SDK) in front of a running
engine, reached through its control socket (engine/service/client.py).

Without ``--agent`` it is the orchestrator's view (e.g. Claude Code driving the team):
get_agents, send_to_agent, broadcast, get_agent_messages, get_interrupts,
update_shared_context, get_shared_context, and answer_interrupt only with
``--allow-answers`` (an orchestrating model can be prompt-injected by agent text).  The
engine names this client (`mcp (pid N)`) with everything it does, from the socket.
With ``--agent ID`` it relays that agent's own view (its MCP socket): the agent's tools
under the agent's rules, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import events as ev
from engine.service.client import ClientError, ControlClient
from engine.service.mcp_commands import reply_of

DEFAULT_REPLY_TIMEOUT = 300.0
_S = {"type": "string"}


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


@dataclass(frozen=True)
class OrchestratorTool:
    name: str
    description: str
    schema: dict[str, Any]


ORCHESTRATOR_TOOLS = [
    OrchestratorTool("get_agents", "Every agent of the team: status, activity, tool calls, "
                     "unread messages, whom it may message, token and dollar usage.", _obj({}, [])),
    OrchestratorTool("send_to_agent", "Send a message to one agent as the person. With "
                     "wait_reply=true it is a request and you get the agent's reply (or a "
                     "timeout after `timeout` seconds, default 300).",
                     _obj({"agent": _S, "text": _S, "wait_reply": {"type": "boolean"},
                           "timeout": {"type": "number", "exclusiveMinimum": 0,
                                       "maximum": 86_400}}, ["agent", "text"])),
    OrchestratorTool("broadcast", "Send a message to every agent as the person.",
                     _obj({"text": _S}, ["text"])),
    OrchestratorTool("get_agent_messages", "The messages an agent sent or received after "
                     "message `since` (an id such as m12; default: from the start).",
                     _obj({"agent": _S, "since": _S}, ["agent"])),
    OrchestratorTool("get_interrupts", "What waits for the person: questions, plans, "
                     "commands to approve, progress reports (oldest first).", _obj({}, [])),
    OrchestratorTool("update_shared_context", "Replace the team's shared context (one "
                     "document every agent sees) with `text`; returns the new version.",
                     _obj({"text": _S}, ["text"])),
    OrchestratorTool("get_shared_context", "The team's shared context: {version, text, by}.",
                     _obj({}, [])),
]
BOARD_TOOLS = [
    OrchestratorTool("assign_task", "Put a task for `agent` on the team's task board; it "
                     "starts when the agent is free and goes through review and QA like the "
                     "plan's tasks. Returns its task_id.",
                     _obj({"agent": _S, "title": _S, "description": _S}, ["agent", "title"])),
    OrchestratorTool("get_task_result", "A task's state (todo, running, review, qa, done, "
                     "blocked, ...), its assignee's summary, review feedback and QA output.",
                     _obj({"task_id": _S}, ["task_id"])),
]
ANSWER_TOOL = OrchestratorTool(
    "answer_interrupt", "Answer an interrupt as the person: `choice` approve or reject (a "
    "plan, a command, a budget, a disk), ack (a progress report), or `text` (a question).",
    _obj({"interrupt": _S, "choice": {"type": "string", "enum": ["approve", "reject", "ack"]},
          "text": _S}, ["interrupt"]))


class Orchestrator:
    """The orchestrator's tools over one control-socket connection."""

    def __init__(self, client: ControlClient, allow_answers: bool) -> None:
        self.client = client
        self.tools = ORCHESTRATOR_TOOLS + ([ANSWER_TOOL] if allow_answers else [])
        self._replies: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._pump: asyncio.Task | None = None

    async def start(self) -> None:
        state = await self.client.request({"type": "state"})
        if (state.get("team_config") or {}).get("workflow"):  # a team with a task board
            self.tools[len(ORCHESTRATOR_TOOLS):len(ORCHESTRATOR_TOOLS)] = BOARD_TOOLS
        await self.client.subscribe()  # live events: replies to send_to_agent
        self._pump = asyncio.create_task(self._read_events(), name="mcp-replies")

    async def _read_events(self) -> None:
        async for event in self.client.events():
            if event.type != ev.MESSAGE or not event.data.get("reply_to"):
                continue
            request_id = str(event.data["reply_to"])
            found = reply_of(event, request_id)
            if found is None:
                continue
            fut = self._waiting.pop(request_id, None)
            if fut is not None and not fut.done():
                fut.set_result(found)
            else:
                self._replies[request_id] = found

    async def call(self, name: str, args: dict[str, Any]) -> Any:
        if name not in {t.name for t in self.tools}:
            raise ClientError(f"no tool {name!r} here; tools: {', '.join(t.name for t in self.tools)}")
        request = self.client.request
        if name == "get_agents":
            return await request({"type": "agents"})
        if name == "send_to_agent":
            return await self._send(str(args.get("agent", "")), args)
        if name == "broadcast":
            return await request({"type": "send_to_agent", "to": "all", "text": args.get("text")})
        if name == "get_agent_messages":
            raw = {"type": "agent_messages", "agent": args.get("agent")}
            if args.get("since"):
                raw["since"] = args["since"]
            return await request(raw)
        if name == "get_interrupts":
            return await request({"type": "interrupts"})
        if name == "update_shared_context":
            return await request({"type": "shared_context", "text": args.get("text")})
        if name == "get_shared_context":
            return await request({"type": "shared_context"})
        if name == "assign_task":
            return await request({"type": "assign_task", "agent": args.get("agent"),
                                  "title": args.get("title"),
                                  "description": args.get("description") or ""})
        if name == "get_task_result":
            return await request({"type": "task_result", "task": args.get("task_id")})
        return await self._answer(args)

    async def _send(self, agent: str, args: dict[str, Any]) -> Any:
        wait = bool(args.get("wait_reply"))
        sent = await self.client.request({"type": "send_to_agent", "to": agent,
                                          "text": args.get("text"), "wait_reply": wait})
        if not wait:
            return sent
        request_id = sent["id"]
        fut = asyncio.get_running_loop().create_future()
        if request_id in self._replies:
            return {**sent, "reply": self._replies.pop(request_id)}
        self._waiting[request_id] = fut
        limit = float(args.get("timeout") or DEFAULT_REPLY_TIMEOUT)
        try:
            return {**sent, "reply": await asyncio.wait_for(fut, limit)}
        except TimeoutError:
            raise ClientError(f"no reply from {agent} within {limit:g}s (message {request_id}); "
                              "get_agent_messages shows it when it comes") from None
        finally:
            self._waiting.pop(request_id, None)

    async def _answer(self, args: dict[str, Any]) -> Any:
        interrupt, choice, text = args.get("interrupt"), args.get("choice"), args.get("text")
        kind = {"approve": "approve", "reject": "reject", "ack": "ack"}.get(str(choice), "answer")
        raw: dict[str, Any] = {"type": kind, "interrupt": interrupt}
        if isinstance(text, str):
            raw["text"] = text
        await self.client.request(raw)
        return {"answered": interrupt, "as": kind}

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)


def orchestrator_server(orch: Orchestrator) -> Any:
    import mcp_types as types
    from mcp.server.lowlevel import Server

    from engine.service.mcp_agent import result_of

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, description=t.description, input_schema=t.schema)
            for t in orch.tools])

    async def call_tool(ctx: Any, params: Any) -> Any:
        try:
            content = await orch.call(params.name, params.arguments or {})
        except ClientError as exc:
            return result_of(types, {"error": str(exc)}, True)
        return result_of(types, content if content is not None else {"ok": True}, False)

    return Server("agentorch", version="1", on_list_tools=list_tools, on_call_tool=call_tool,
                  instructions="Drive a running agentorch team: read its state, message its "
                               "agents, keep its shared context.")


def relay_server(upstream: Any) -> Any:
    """An MCP server that hands every list and call to ``upstream`` (an agent's view)."""
    from mcp.server.lowlevel import Server

    async def list_tools(ctx: Any, params: Any) -> Any:
        return await upstream.list_tools()

    async def call_tool(ctx: Any, params: Any) -> Any:
        return await upstream.call_tool(params.name, params.arguments or {})

    return Server("agentorch-agent", version="1", on_list_tools=list_tools,
                  on_call_tool=call_tool)


async def serve_stdio(socket_path: str, agent: str | None, allow_answers: bool) -> int:
    """Serve MCP on stdin/stdout until the client (or the run) goes away."""
    from mcp.server.stdio import stdio_server

    client = await ControlClient.connect(socket_path, name="mcp")
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(client.close)
        if agent is not None:
            found = await client.request({"type": "agent_socket", "agent": agent})
            upstream = await stack.enter_async_context(_agent_session(found["socket"]))
            server = relay_server(upstream)
        else:
            orch = Orchestrator(client, allow_answers)
            await orch.start()
            stack.push_async_callback(orch.close)
            server = orchestrator_server(orch)
        read, write = await stack.enter_async_context(stdio_server())
        await server.run(read, write, server.create_initialization_options())
    return 0


@contextlib.asynccontextmanager
async def _agent_session(path: str):
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    transport = httpx2.AsyncHTTPTransport(uds=path)
    async with httpx2.AsyncClient(transport=transport, timeout=None) as http, \
            streamable_http_client("http://agent/mcp", http_client=http) as streams, \
            ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        yield session


def add_parser(sub: Any, default_db: str) -> None:
    m = sub.add_parser("mcp", help="an MCP server over stdio in front of a running run")
    m.add_argument("--run", default="last", help="a live run's id (or a prefix), or `last`")
    m.add_argument("--agent", help="serve this agent's own view (its tools, its rules)")
    m.add_argument("--allow-answers", action="store_true",
                   help="offer answer_interrupt (the MCP client may approve for you)")
    m.add_argument("--db", default=None,
                   help=f"the state database (default {default_db}; without one there, the "
                        "newest live run of yours is found by its socket)")


def run_command(args: Any) -> int:
    """`agentorch-tui mcp`: one sentence on stderr when there is no run to serve."""
    import os
    import sys

    from engine.service.client import find_live_run
    from memory.store import DEFAULT_DB

    args.db_given = args.db is not None
    args.db = args.db or str(DEFAULT_DB)

    try:
        try:
            _run, path = find_live_run(args.db, args.run)
        except ClientError:
            if args.db_given or os.path.exists(args.db):
                raise
            found = live_socket_of(args.run)  # e.g. Claude Code starts us in another directory
            if found is None:
                raise
            path = found
        return asyncio.run(serve_stdio(str(path), args.agent, args.allow_answers))
    except ClientError as exc:
        print(f"agentorch-tui mcp: {exc}", file=sys.stderr)
        return 1


def live_socket_of(ref: str, directory: Path | None = None) -> Path | None:
    """Without a database at hand: the control socket of the live run ``ref`` (an id, a
    prefix or `last`: the newest) among this user's sockets, or None."""
    import socket

    from engine.service.socket_dir import default_socket_dir

    base = directory or default_socket_dir()
    try:
        sockets = sorted(base.glob("*.sock"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for path in sockets:
        if ref != "last" and not path.name.startswith(ref):
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            return path
        except OSError:
            continue
        finally:
            probe.close()
    return None
