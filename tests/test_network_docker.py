"""Egress from a real container without a network: the relay, the door, the proxy.

Servers listen on 127.0.0.1 of the host only; the allowed ones are listed by address.
The container keeps network_mode=none, so whatever does not go through the proxy fails."""

from __future__ import annotations

import os

import pytest

from sandboxes.docker import DockerSandbox
from sandboxes.network.policy import Policy
from sandboxes.relay import PROXY_PORT, PROXY_SOCKET, proxy_env
from tests.docker_support import make_spec, require_docker
from tests.proxy_support import FakeOrigin, open_proxy

pytestmark = pytest.mark.docker


@pytest.fixture
async def origin():
    server = await FakeOrigin().start()
    yield server
    await server.stop()


@pytest.fixture
async def net(tmp_path, origin):
    """A proxy door for agent `coder` (allowing the origin's address) and its sandbox."""
    require_docker()
    folder = tmp_path / "net" / "coder"
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    p = await open_proxy(folder.parent, [f"127.0.0.1:{origin.port}"], uids=frozenset({65534, 65533}))
    p.door.path = str(folder / PROXY_SOCKET)
    await p.proxy.close()
    await p.proxy.open_door(p.door)
    sandbox = DockerSandbox(make_spec(tmp_path / "ws", agent_id="coder", service_dir=folder,
                                      relays=((PROXY_PORT, PROXY_SOCKET),), env=proxy_env()))
    await sandbox.start()
    try:
        yield p, sandbox
    finally:
        await sandbox.stop()
        await p.proxy.close()


async def test_an_allowed_host_is_reached_through_the_proxy(net, origin):
    p, sandbox = net
    r = await sandbox.exec(f"wget -q -O - http://127.0.0.1:{origin.port}/hello", 30)
    assert r.exit_code == 0, r.output
    assert "hello from origin" in r.output
    assert origin.heads[0].startswith(b"GET /hello HTTP/1.1")
    [record] = await p.settled()
    assert record.allowed and record.agent == "coder" and record.down > 0


async def test_a_denied_host_fails_fast_with_a_clear_error(net, origin):
    p, sandbox = net
    p.door.policy = Policy.of([], [])
    r = await sandbox.exec(f"wget -O - http://127.0.0.1:{origin.port}/ 2>&1", 30)
    assert r.exit_code != 0 and not r.timed_out
    assert "403" in r.output and "agentorch" in r.output, r.output
    assert origin.heads == []


async def test_connections_that_bypass_the_proxy_fail(net, origin):
    _, sandbox = net
    for command in (f"env -u http_proxy -u HTTP_PROXY wget -q -T 5 -O - http://127.0.0.1:{origin.port}/",
                    "wget -q -T 5 -O - http://172.17.0.1/",
                    f"echo hi | nc -w 5 127.0.0.1 {origin.port}",
                    "ls /sys/class/net"):
        r = await sandbox.exec(command, 30)
        if command.startswith("ls"):
            assert r.output.split() == ["lo"], r.output
        else:
            assert r.exit_code != 0, (command, r.output)
    assert origin.heads == [] and origin.raw == []


async def test_the_relay_outlives_the_idle_sweep_and_the_agent_cannot_kill_it(net, origin):
    _, sandbox = net
    r = await sandbox.exec("pkill -9 -f relay; kill -9 $(pidof relay) 2>&1; sleep 0.1; true", 30)
    for _ in range(2):  # the supervisor swept after each command
        r = await sandbox.exec(f"wget -q -O - http://127.0.0.1:{origin.port}/", 30)
        assert r.exit_code == 0 and "hello from origin" in r.output, r.output


async def test_the_socket_is_read_only_and_outside_the_workspace(net):
    _, sandbox = net
    r = await sandbox.exec("touch /run/agentorch/x 2>&1; ls /workspace; echo $HTTPS_PROXY", 30)
    assert "Read-only file system" in r.output, r.output
    assert "http://127.0.0.1:3128" in r.output


async def test_unrestricted_is_a_warning_on_screen(tmp_path):
    require_docker()
    from engine_support import make_team, run_to_end

    from sandboxes.docker import TEST_IMAGE

    team = make_team(tmp_path, [{"id": "a", "network": "unrestricted"}],
                     sandbox={"backend": "docker", "image": TEST_IMAGE})
    engine, w, store = await run_to_end(team, tmp_path, timeout=60)
    [notice] = [e for e in w.find("notice") if "UNRESTRICTED" in e.data["text"]]
    assert notice.data["level"] == "warning" and notice.data["unrestricted"] == ["a"]
    await store.close()
