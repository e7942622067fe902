"""Try to break the isolation promises of the docker sandbox from inside the container."""

from __future__ import annotations

import os

import pytest

from sandboxes.base import SandboxError
from sandboxes.docker import DockerSandbox, check_docker
from tests.docker_support import make_spec, require_docker, started_sandbox, stop_sandbox

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    base = tmp_path_factory.mktemp("agents")
    mine, other = base / "alice", base / "bob"
    other.mkdir()
    (other / "secret.txt").write_text("bob's secret\n")
    return mine, other


@pytest.fixture(scope="module")
def sandbox(workspaces):
    require_docker()
    sb = started_sandbox(make_spec(workspaces[0], agent_id="alice"))
    yield sb
    stop_sandbox(sb)


async def run(sb: DockerSandbox, command: str, timeout: float = 20):
    return await sb.exec(command, timeout)


async def test_workspace_created_and_is_workdir(sandbox, workspaces):
    assert workspaces[0].is_dir()
    r = await run(sandbox, "pwd; echo hello > made-inside.txt; echo err >&2; exit 3")
    assert r.exit_code == 3
    assert r.output.splitlines()[0] == "/workspace"
    assert "err" in r.output
    assert (workspaces[0] / "made-inside.txt").read_text() == "hello\n"
    assert sandbox.label == sandbox.container_id[:12]


async def test_no_network(sandbox):
    r = await run(sandbox, "ls /sys/class/net")
    assert r.output.split() == ["lo"]
    # each client would wait 10 s for a route; the command's own 8 s limit proves it failed at once
    r = await sandbox.exec("wget -q -T 10 -O- http://1.1.1.1/ ; echo rc=$?; nc -w 10 8.8.8.8 53 </dev/null; "
                           "echo rc=$?", 8)
    assert not r.timed_out, "connecting out should fail at once, not wait for a timeout"
    assert "rc=0" not in r.output, r.output
    assert "unreachable" in r.output.lower(), r.output


async def test_no_docker_socket_no_host_paths(sandbox, workspaces):
    r = await run(
        sandbox,
        "ls -la /var/run/docker.sock /run/docker.sock 2>&1; "
        "find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null; echo done",
    )
    assert "docker.sock" not in r.output.replace("No such file", "").split("ls:")[0]
    assert r.output.strip().splitlines()[-1] == "done"
    assert [line for line in r.output.splitlines() if line.startswith("/")] == []
    # mounts: only the workspace comes from the host (plus docker's own resolv/hosts files)
    r = await run(sandbox, "cat /proc/mounts")
    mount_points = {line.split()[1] for line in r.output.splitlines()}
    allowed_prefixes = ("/proc", "/dev", "/sys")
    allowed = {
        "/", "/tmp", "/workspace", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",
        "/sbin/docker-init",  # init=True: docker's tini, read-only
    }
    unexpected = {m for m in mount_points if m not in allowed and not m.startswith(allowed_prefixes)}
    assert unexpected == set(), r.output
    assert str(workspaces[0]) not in r.output


async def test_other_agents_workspace_unreachable(sandbox, workspaces):
    mine, other = workspaces
    r = await run(
        sandbox,
        f"ls {other} 2>&1; cat {other}/secret.txt 2>&1; ls /workspace/..; "
        "grep -rs 'secret' / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | grep -v '^/proc' | head -3; echo done",
    )
    assert "bob's secret" not in r.output
    assert r.output.count("No such file") == 2, r.output
    listing = r.output.splitlines()[2:]
    assert "bob" not in listing and "alice" not in listing and "agents0" not in " ".join(listing)


async def test_privileges_dropped(sandbox):
    r = await run(sandbox, "grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status; id -u")
    fields = dict(line.split(":\t") for line in r.output.splitlines()[:-1] if ":\t" in line)
    assert fields["CapEff"] == "0000000000000000"
    assert fields["CapPrm"] == "0000000000000000"
    assert fields["NoNewPrivs"] == "1"
    assert int(r.output.splitlines()[-1]) != 0


async def test_read_only_root_writable_workspace_and_tmp(sandbox):
    r = await run(sandbox, "touch /evil 2>&1; echo rc=$?; touch /etc/evil 2>&1; echo rc=$?; "
                           "mkdir /usr/evil 2>&1; echo rc=$?")
    assert r.output.count("rc=0") == 0, r.output
    assert "Read-only file system" in r.output
    r = await run(sandbox, "echo x > /workspace/ok && echo x > /tmp/ok && echo x > $HOME/ok && echo fine")
    assert r.output.strip() == "fine", r.output


async def test_files_written_inside_belong_to_workspace_owner(sandbox, workspaces):
    ws = workspaces[0]
    r = await run(sandbox, "mkdir -p sub && echo data > sub/f && id -u && id -g")
    uid, gid = (int(x) for x in r.output.split())
    st = os.stat(ws / "sub" / "f")
    assert (st.st_uid, st.st_gid) == (uid, gid)
    assert os.stat(ws).st_uid == uid  # the workspace is the container user's (and so the host user's)
    if os.geteuid() != 0:
        assert uid == os.geteuid()
    # a file written by the host side (write_file) stays writable inside
    await sandbox.write_file("host-written.txt", "one\n")
    r = await run(sandbox, "echo two >> host-written.txt && cat host-written.txt")
    assert r.output == "one\ntwo\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a workspace to another uid")
async def test_container_runs_as_workspace_owner(tmp_path):
    require_docker()
    ws = tmp_path / "owned"
    ws.mkdir()
    os.chown(ws, 4321, 4322)
    sb = DockerSandbox(make_spec(ws, agent_id="owned"))
    await sb.start()
    try:
        r = await sb.exec("id -u; id -g; echo hi > f", 20)
        assert r.output.split() == ["4321", "4322"]
        st = os.stat(ws / "f")
        assert (st.st_uid, st.st_gid) == (4321, 4322)
    finally:
        await sb.stop()


async def test_network_opt_in_unrestricted(tmp_path):
    require_docker()
    sb = DockerSandbox(make_spec(tmp_path / "ws", agent_id="net", network="unrestricted"))
    await sb.start()
    try:
        r = await sb.exec("ls /sys/class/net", 20)
        assert "eth0" in r.output.split()
    finally:
        await sb.stop()


async def test_unknown_network_is_a_clear_error(tmp_path):
    require_docker()
    with pytest.raises(SandboxError, match="none or unrestricted"):
        await DockerSandbox(make_spec(tmp_path / "ws", network="host")).start()


async def test_missing_image_names_build_command(tmp_path):
    require_docker()
    with pytest.raises(SandboxError, match="build it with"):
        await check_docker("agentorch/no-such-image:latest")
    with pytest.raises(SandboxError, match="build-test-image.sh"):
        await check_docker("agentorch/sandbox-test:no-such-tag")
    with pytest.raises(SandboxError, match="sandboxes/Dockerfile"):
        await DockerSandbox(make_spec(tmp_path / "ws", image="agentorch/sandbox:no-such-tag")).start()
