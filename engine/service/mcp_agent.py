"""An agent's MCP view: exactly the tools its `tools` allow, run as its own calls.

A call goes through the same path as a call of the agent's brain (`AgentRuntime._run_call`
with engine/toolbox.py's `execute`): the allow-list, the argument check, the plan gate,
the topology of messages, approvals, budgets and events all apply, so an MCP caller can
never do more than the agent could.  Its `tool_call` event says ``via: "mcp"`` (a resume
never replays it to the brain).  The agent's MCP calls run one at a time, after any pause.
Beside the agent's tools the view has the permission-prompt tool (mcp_permission.py).
`finish` through MCP records the summary; the agent's brain (a CLI brain) ends the agent
when its turn ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.agent import AgentFinished
from engine.brains.base import ToolCall
from engine.service.mcp_permission import INPUT_SCHEMA, PERMISSION_TOOL, SPEC_DESCRIPTION, permission_prompt

if TYPE_CHECKING:
    import socket

    from engine.agent import AgentRuntime
    from engine.service.agent_socket import AgentViews

SERVER_NAME = "agentorch"
#: requests one agent may have open at once on its socket (its calls run one at a time)
MAX_IN_FLIGHT = 16
_call_ids = itertools.count(1)
_PROCESS = secrets.token_hex(3)


class ViewError(Exception):
    """A call the view refuses before it reaches a tool (tool error text)."""


def tool_list(agent: AgentRuntime) -> list[dict[str, Any]]:
    """(name, description, input schema) of every tool in the agent's view: the tools its
    brain is given (its `tools`, plus what the workflow grants its role)."""
    tools = [{"name": spec.name, "description": spec.description,
              "input_schema": spec.input_schema}
             for spec in agent.tools if spec.name in agent.allowed_tool_names]
    tools.append({"name": PERMISSION_TOOL, "description": SPEC_DESCRIPTION,
                  "input_schema": INPUT_SCHEMA})
    return tools


async def call_as_agent(agent: AgentRuntime, name: str, args: Any) -> tuple[Any, bool]:
    """Run tool ``name`` as ``agent``; (result content, is_error)."""
    if agent.finished:
        return {"error": f"{ev.ended_text(agent.agent_id, agent.status)}: its tools are closed"}, True
    if name == PERMISSION_TOOL:
        args = args if isinstance(args, dict) else {}
        decision = await permission_prompt(agent, str(args.get("tool_name") or ""),
                                           args.get("input"), args.get("tool_use_id"))
        # Claude Code reads the decision from one text block and refuses a result that
        # also carries structured content: the JSON as text only
        return json.dumps(decision), False
    from engine.toolbox import execute

    lock = _lock_of(agent)
    async with lock:
        await agent.checkpoint()  # a paused agent's MCP calls wait like its own
        call = ToolCall(f"mcp-{_PROCESS}-{next(_call_ids)}", name,
                        args if isinstance(args, dict) else {})
        try:
            result = await agent._run_call(execute, call, via="mcp")
        except AgentFinished as fin:  # recorded; the brain ends the agent after its turn
            agent.summary = fin.summary
            agent.finish_requested = True
            return {"finished": True, "summary": fin.summary}, False
    return result.content, result.is_error


def _lock_of(agent: AgentRuntime) -> asyncio.Lock:
    lock = getattr(agent, "mcp_lock", None)
    if lock is None:
        lock = agent.mcp_lock = asyncio.Lock()
    return lock


# -- the MCP server (the official SDK, streamable HTTP, over the agents' sockets) --------
def build_server(views: AgentViews) -> Any:
    import mcp_types as types
    from mcp.server.lowlevel import Server

    def agent_of(ctx: Any) -> AgentRuntime:
        scope = getattr(getattr(ctx, "request", None), "scope", None) or {}
        agent_id = scope.get("agentorch.agent")
        agent = views.engine.agents.get(agent_id) if agent_id else None
        if agent is None:
            raise ViewError("this socket belongs to no agent of the run")
        return agent

    async def list_tools(ctx: Any, params: Any) -> Any:
        agent = agent_of(ctx)
        return types.ListToolsResult(tools=[
            types.Tool(name=t["name"], description=t["description"], input_schema=t["input_schema"])
            for t in tool_list(agent)])

    async def call_tool(ctx: Any, params: Any) -> Any:
        try:
            content, is_error = await call_as_agent(agent_of(ctx), params.name,
                                                    params.arguments or {})
        except ViewError as exc:
            content, is_error = {"error": str(exc)}, True
        return result_of(types, content, is_error)

    return Server(SERVER_NAME, version="1", on_list_tools=list_tools, on_call_tool=call_tool,
                  instructions="The team tools of this agentorch agent.")


def result_of(types: Any, content: Any, is_error: bool) -> Any:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                structured_content=content if isinstance(content, dict) else None,
                                is_error=is_error)


async def serve_agent_sockets(views: AgentViews, sockets: list[socket.socket]) -> None:
    """Serve MCP on ``sockets`` until cancelled (one uvicorn server for all of them).

    The SDK and uvicorn take ~0.3 s to import: that happens in a thread, so the engine's
    loop (and the screen) go on meanwhile; early clients wait in the sockets' backlog."""
    await asyncio.to_thread(_import_server_modules)
    import uvicorn
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

    # DNS rebinding protection is for TCP ports a browser can reach; a Unix socket bound
    # only into one container has no such caller, and the relay's Host varies
    manager = StreamableHTTPSessionManager(
        app=build_server(views), stateless=True, json_response=True,
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        where = scope.get("server") or ("", None)
        agent_id = views.owners.get(str(where[0]))
        if agent_id is None or scope.get("path") != "/mcp":
            await _plain(send, 404, "not found: the MCP endpoint is /mcp")
            return
        scope["agentorch.agent"] = agent_id  # from the socket it came in on, nothing else
        busy = views.in_flight.get(agent_id, 0)
        if busy >= MAX_IN_FLIGHT:  # one agent cannot tie up the server its team shares
            await _plain(send, 429, f"{agent_id} has {busy} requests open; wait for their "
                                    "answers first")
            return
        views.in_flight[agent_id] = busy + 1
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            views.in_flight[agent_id] -= 1

    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=1, ws="none", proxy_headers=False,
                            server_header=False)
    server = _QuietServer(config)
    async with manager.run():
        task = asyncio.create_task(server.serve(sockets=sockets))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
            raise


def _import_server_modules() -> None:
    import mcp.server.lowlevel  # noqa: F401
    import mcp.server.streamable_http_manager  # noqa: F401
    import uvicorn  # noqa: F401


async def _plain(send: Any, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _quiet_server_class() -> type:
    import uvicorn

    class QuietServer(uvicorn.Server):
        """uvicorn inside the engine's loop: the engine owns the signals."""

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            yield

    return QuietServer


def _QuietServer(config: Any) -> Any:  # noqa: N802 - a class made on first use
    return _quiet_server_class()(config)
