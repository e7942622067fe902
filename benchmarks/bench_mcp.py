"""MCP tool call round trip, against the same command without MCP.

* orchestrator view: `agentorch-tui mcp` as a subprocess, driven over real stdio by the
  mcp SDK's own client, calling `get_shared_context` (stdio -> the MCP server -> the
  control socket -> the command registry -> back).  Baseline: the same command through
  `dispatch` in the engine's process.
* agent view: an agent's own MCP socket (streamable HTTP over its Unix socket, the SDK's
  client) calling `get_shared_context` as that agent: a real tool call with its
  `tool_call`/`tool_result` events.  Baseline: the same tool call through the agent's
  own path (`AgentRuntime._run_call` with the toolbox), in process.

Usage: python benchmarks/bench_mcp.py [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from engine.brains.base import ToolCall  # noqa: E402
from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from engine.service.agent_socket import AgentViews  # noqa: E402
from engine.service.commands import dispatch  # noqa: E402
from engine.service.control_socket import ControlServer  # noqa: E402
from engine.toolbox import execute  # noqa: E402
from memory.store import Store  # noqa: E402

CLI = str(Path(sys.executable).parent / "agentorch-tui")


async def timed(calls: int, once) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await once()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def line(name: str, ms: list[float]) -> float:
    p50 = statistics.median(ms)
    p99 = statistics.quantiles(ms, n=100)[98]
    print(f"  {name:<44} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms")
    return p50


async def main(calls: int) -> None:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp_support import agent_session

    with tempfile.TemporaryDirectory(dir="/tmp", prefix="ao-b") as d:
        tmp = Path(d)
        team = TeamConfig.model_validate({
            "name": "bench", "sandbox": {"backend": "local"}, "base_dir": tmp,
            "agents": [{"id": "a", "model": "scripted", "sandbox_path": "ws/a",
                        "script": [{"tool": "wait_for_message", "args": {"timeout": 3600}}]}]})
        store = await Store.open(tmp / "state.db")
        engine = Engine(team, store)
        engine.control = ControlServer(engine, directory=tmp / "c")
        engine.agent_views = views = AgentViews(engine, directory=tmp / "v")
        await engine.start()
        await engine.handle_command({"type": "shared_context", "text": "bench " * 50})
        rt = engine.agents["a"]
        print(f"MCP tool call round trip ({calls} calls each; get_shared_context)")

        base_cmd = line("command via dispatch, in process",
                        await timed(calls, lambda: dispatch(engine, {"type": "shared_context"})))
        params = StdioServerParameters(command=CLI, args=["mcp", "--db", str(tmp / "state.db")])
        async with stdio_client(params) as (r, w), ClientSession(r, w) as mcp:
            await mcp.initialize()
            await mcp.call_tool("get_shared_context", {})
            orch = line("orchestrator view: stdio -> control socket",
                        await timed(calls, lambda: mcp.call_tool("get_shared_context", {})))

        n = iter(range(10**9))
        base_tool = line("agent's tool call, in process (_run_call)", await timed(
            calls, lambda: rt._run_call(execute, ToolCall(f"b{next(n)}", "get_shared_context"))))
        async with agent_session(views.socket_of("a")) as session:
            await session.call_tool("get_shared_context", {})
            agent = line("agent view: HTTP over its Unix socket",
                         await timed(calls, lambda: session.call_tool("get_shared_context", {})))
        print(f"  ratios: orchestrator/dispatch {orch / base_cmd:,.0f}x, "
              f"agent view/in process {agent / base_tool:,.0f}x")
        await engine.stop()
        await store.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=300)
    asyncio.run(main(p.parse_args().calls))
