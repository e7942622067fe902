"""An agent's MCP socket from inside its real Docker container (bind-mounted read-only,
reached over the in-container relay on 127.0.0.1, the way Claude Code reaches it)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from docker_support import require_docker
from engine_support import Watcher, make_team, step

from engine.run import Engine
from engine.service.agent_socket import CONTAINER_DIR, ENV_URL, MCP_PORT, AgentViews
from memory.store import Store
from sandboxes.docker import TEST_IMAGE

pytestmark = pytest.mark.docker

HEADERS = ("--header 'Content-Type: application/json' "
           "--header 'Accept: application/json, text/event-stream' "
           "--header 'MCP-Protocol-Version: 2025-06-18'")


def post(body: dict) -> str:
    """A busybox wget POST of one JSON-RPC message to the agent's MCP endpoint."""
    data = json.dumps(body).replace("'", "'\\''")
    return (f"wget -q -O- {HEADERS} --post-data '{data}' "
            f"http://127.0.0.1:{MCP_PORT}/mcp")


def rpc_result(output: str) -> dict:
    """The JSON-RPC message of a reply (plain JSON or one SSE `data:` line)."""
    for line in output.splitlines():
        if line.startswith("data:"):
            return json.loads(line[5:])
    return json.loads(output)


async def test_the_agent_reaches_its_own_view_from_inside_its_container(tmp_path):
    require_docker()
    team = make_team(tmp_path, [
        {"id": "dev", "direct_communication": ["lead"], "sandbox_path": "ws/dev",
         "script": [step("wait_for_message", timeout=120)]},
        {"id": "lead", "sandbox_path": "ws/lead", "script": [step("wait_for_message", timeout=120)]},
    ], sandbox={"backend": "docker", "image": TEST_IMAGE})
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    short = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    engine.agent_views = AgentViews(engine, directory=short, relayed=lambda a: a == "dev")
    w = Watcher(engine)
    await engine.start()
    try:
        dev = engine.agents["dev"].sandbox
        assert dev.spec.env[ENV_URL] == f"http://127.0.0.1:{MCP_PORT}/mcp"
        listed = await dev.exec(post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}), 60)
        assert listed.exit_code == 0, listed.output
        names = [t["name"] for t in rpc_result(listed.output)["result"]["tools"]]
        assert "send_message" in names and "get_agents" not in names
        sent = await dev.exec(post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "send_message", "arguments": {"to": "lead", "text": "from the container"}}}), 60)
        assert not rpc_result(sent.output)["result"]["isError"], sent.output
        message = await w.wait_for("message", "dev", text="from the container")
        assert message.data["recipients"] == ["lead"]
        # the socket directory is read-only inside, and holds no control socket
        listing = await dev.exec(f"ls -A {CONTAINER_DIR}", 30)
        assert listing.output.split() == ["mcp.sock", "shared_context.md"]
        tried = await dev.exec(f"touch {CONTAINER_DIR}/x 2>&1; rm -f {CONTAINER_DIR}/mcp.sock 2>&1; "
                               f"ls -A {CONTAINER_DIR}", 30)
        assert tried.output.count("Read-only file system") == 2
        assert tried.output.split()[-2:] == ["mcp.sock", "shared_context.md"]
        # the shared context as a read-only file, rewritten at each change
        await engine.handle_command({"type": "shared_context", "text": "Tabs, not spaces."})
        shown = await dev.exec("cat \"$AGENTORCH_SHARED_CONTEXT\"", 30)
        assert shown.output.endswith("version 1, by user -->\nTabs, not spaces.\n")
        # the other agent has no relay to it and no socket but its own
        lead = engine.agents["lead"].sandbox
        other = await lead.exec(post({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}), 30)
        assert other.exit_code != 0
        assert ENV_URL not in lead.spec.env
    finally:
        await engine.stop()
        await store.close()
