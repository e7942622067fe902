"""Network rules in a real run: held requests as `network` interrupts, answered each way,
"always" recorded beside the database and honoured by the next run, --auto-approve never
answering, kill -9 with a request held, then resume.  Real Docker, real proxy, servers on
127.0.0.1 of the host only."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest
from crash_support import HeadlessRun
from docker_support import require_docker
from engine_support import Watcher, make_team, step
from proxy_support import FakeOrigin, ThreadedOrigin

from engine.cli import cmd_check
from engine.network import DIR_PREFIX
from engine.network_allowed import allowed_file, load_allowed
from engine.run import Engine
from memory.store import Store
from sandboxes.docker import TEST_IMAGE

pytestmark = pytest.mark.docker


@pytest.fixture
async def origin():
    server = await FakeOrigin().start()
    yield server
    await server.stop()


def wget(port: int, path: str = "/") -> str:
    return f"wget -O - http://127.0.0.1:{port}{path} 2>&1"


def agent(agent_id: str, port: int, *commands: str, **network) -> dict:
    return {"id": agent_id, "network": {"allow": [], **network},
            "script": [step("run_command", command=c) for c in commands]}


async def engine_for(tmp_path, agents: list[dict], **kw) -> tuple[Engine, Watcher, Store]:
    team = make_team(tmp_path, agents, sandbox={"backend": "docker", "image": TEST_IMAGE})
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store, **kw)
    watcher = Watcher(engine)
    await engine.start()
    return engine, watcher, store


def output(w: Watcher, agent_id: str, n: int = 0) -> str:
    return w.results(agent_id)[n]["result"]["output"]


async def test_held_requests_answered_each_way(tmp_path, origin):
    require_docker()
    port = origin.port
    both = f"{wget(port, '/1')} & {wget(port, '/2')}; wait"
    engine, w, store = await engine_for(tmp_path, [
        agent("once", port, wget(port, "/once"), wget(port, "/again")),
        agent("deny", port, wget(port, "/deny")),
        agent("run", port, both, wget(port, "/run-2")),
        agent("always", port, wget(port, "/always")),
        agent("late", port, wget(port, "/late"), hold_timeout=0.5),
    ])
    try:
        for agent_id, choice in (("once", "once"), ("deny", "deny"), ("run", "run"),
                                 ("always", "always")):
            intr = await w.wait_for("interrupt", agent_id, kind="network", timeout=60)
            assert (intr.data["host"], intr.data["port"], intr.data["method"]) == ("127.0.0.1", port,
                                                                                  "GET")
            assert intr.data["choices"] == ["once", "run", "always", "deny"]
            await engine.handle_command({"type": "network", "interrupt": intr.data["id"],
                                         "choice": choice})
        second = [e for e in await _interrupts(w, "once", 2)][1]  # "once" holds for one request
        await engine.answer(second.data["id"], "deny")
        await asyncio.wait_for(engine.wait(), 90)
    finally:
        if not engine.finished.is_set():
            await engine.stop()
    assert "hello from origin" in output(w, "once") and "403" in output(w, "once", 1)
    assert "403" in output(w, "deny") and "was not allowed for agent deny" in output(w, "deny")
    assert output(w, "run").count("hello from origin") == 2, output(w, "run")
    assert len(w.find("interrupt", "run", kind="network")) == 1  # the same host collapses
    assert "hello from origin" in output(w, "run", 1)
    assert "hello from origin" in output(w, "always")
    late = w.find("interrupt_answered", "late", kind="network")[0].data["answer"]
    assert late["choice"] == "deny" and late["by"] == "timeout" and "403" in output(w, "late")
    assert load_allowed(tmp_path / "state.db", "t") == {"always": [f"127.0.0.1:{port}"]}
    conns = w.find("connection", "run")
    assert [c.data["allowed"] for c in conns] == [True] * 3 and all(c.data["down"] > 0 for c in conns)
    assert {c.data["allowed"] for c in w.find("connection", "deny")} == {False}
    assert sorted(origin.heads)[0].startswith(b"GET /")
    assert not any(b"/deny" in h or b"/late" in h for h in origin.heads)
    await store.close()

    # the next run honours "always" without asking, and `check` lists it
    engine, w, store = await engine_for(tmp_path, [agent("always", port, wget(port, "/next"))])
    await asyncio.wait_for(engine.wait(), 60)
    assert "hello from origin" in output(w, "always") and not w.find("interrupt", "always")
    await store.close()


async def _interrupts(w: Watcher, agent_id: str, count: int) -> list:
    for _ in range(3000):
        found = w.find("interrupt", agent_id, kind="network")
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} network interrupts of {agent_id}")


async def test_auto_approve_never_answers_a_network_request(tmp_path, origin):
    require_docker()
    engine, w, store = await engine_for(tmp_path, [agent("a", origin.port, wget(origin.port))],
                                        auto_approve=True)
    try:
        intr = await w.wait_for("interrupt", "a", kind="network", timeout=60)
        assert intr.data["id"] in {i.id for i in engine.interrupts.pending()}
        assert not w.find("interrupt_answered", "a")
        await engine.approve(intr.data["id"])  # approve = allow once
        await asyncio.wait_for(engine.wait(), 60)
    finally:
        if not engine.finished.is_set():
            await engine.stop()
    assert w.find("interrupt_answered", "a")[0].data["answer"]["choice"] == "once"
    assert "hello from origin" in output(w, "a")
    await store.close()


def test_check_lists_the_always_allowed_hosts(tmp_path, capsys):
    (tmp_path / "team.yaml").write_text("name: t\nagents:\n  - id: a\n    model: scripted\n"
                                        "    script: []\n    network: {allow: [pypi.org]}\n")
    allowed_file(tmp_path / "state.db").write_text(json.dumps(
        {"version": 1, "teams": {"t": {"a": ["github.com:443", "http://not a pattern", 7]}}}))
    assert cmd_check(str(tmp_path / "team.yaml"), str(tmp_path / "state.db")) == 0
    out = capsys.readouterr().out
    assert "always allowed" in out and "github.com:443" in out and "not a pattern" not in out
    assert "a              allow pypi.org; others ask you (denied after 300 s)" in out


def test_kill9_with_a_held_request_then_resume(tmp_path):
    require_docker()
    origin = ThreadedOrigin()
    try:
        (tmp_path / "team.yaml").write_text(
            f"name: t\nsandbox: {{backend: docker, image: '{TEST_IMAGE}'}}\nagents:\n"
            f"  - id: a\n    model: scripted\n    network: {{allow: []}}\n    script:\n"
            f"      - {{tool: run_command, args: {{command: '{wget(origin.port, '/first')}'}}}}\n"
            f"      - {{tool: run_command, args: {{command: '{wget(origin.port, '/second')}'}}}}\n")
        run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
        held = run.until(lambda e: e["type"] == "interrupt" and e.get("kind") == "network")
        killed = run.proc.pid
        run.kill9()
        left = list(Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}{killed}-*"))
        assert left, "kill -9 leaves the run's socket folder behind"
        resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
        gone = resumed.until(lambda e: e["type"] == "interrupt_answered" and e["id"] == held["id"])
        assert gone["answer"]["withdrawn"] is True
        again = resumed.until(lambda e: e["type"] == "interrupt" and e.get("kind") == "network"
                              and e["id"] != held["id"])
        resumed.send({"type": "network", "interrupt": again["id"], "choice": "run"})
        assert resumed.finish() == 0, resumed.proc.stderr.read()
        assert not any(p.exists() for p in left), "the next start removes a dead run's sockets"
        outputs = [e["result"]["output"] for e in resumed.events if e["type"] == "tool_result"]
        assert any("hello from origin" in o for o in outputs), outputs
    finally:
        origin.stop()


HOST_PEER = """
import os, socket, sys
os.setgid(65534); os.setuid(65534)  # the relay's uid, but on the host, not in the container
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
where = b"127.0.0.1:" + sys.argv[2].encode()
try:
    s.sendall(b"GET http://" + where + b"/host HTTP/1.1\\r\\nHost: " + where + b"\\r\\n\\r\\n")
    print(repr(s.recv(4096)))
except (BrokenPipeError, ConnectionResetError):
    print(repr(b""))
"""


async def test_only_the_agents_own_container_gets_through_its_door(tmp_path, origin):
    require_docker()
    import os
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root to act as the relay's uid on the host")
    port = origin.port
    engine, w, store = await engine_for(tmp_path, [{
        "id": "a", "network": {"allow": [f"127.0.0.1:{port}"]},
        "script": [step("wait_for_message", timeout=60), step("run_command", command=wget(port, "/in"))]}])
    try:
        await w.wait_for("agent_status", "a", status="waiting_message", timeout=60)
        door = engine.network.proxy.doors["a"]
        os.chmod(Path(door.path).parent.parent, 0o755)  # let the attacker reach the socket
        attack = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", HOST_PEER, door.path,
                                                          str(port)], capture_output=True, text=True)
        assert attack.stdout.strip() == "b''", attack.stdout + attack.stderr
        await engine.send_user_message("a", "go")
        await asyncio.wait_for(engine.wait(), 60)
    finally:
        if not engine.finished.is_set():
            await engine.stop()
    assert "hello from origin" in output(w, "a", 1)
    assert [h.split(b" ")[1] for h in origin.heads] == [b"/in"]
    await store.close()
