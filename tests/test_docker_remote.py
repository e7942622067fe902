"""File tools and commands with a Docker daemon treated as remote (issue 13).

A second dockerd, started by the test with its own data root, exec root and
Unix socket (no TCP: an unauthenticated TCP socket would give root to any local
process), in its own network namespace, stands in for a daemon on another machine.  With ``remote`` set, the
workspace is a named volume on that daemon and nothing is bind-mounted: the
host directory named as the workspace is never even created, and file tools
still work because they run inside the container over the exec session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.docker_support import REPO
from tests.remote_daemon import docker_cli, second_daemon_running

pytestmark = pytest.mark.docker

SCRIPT = r"""
import asyncio, json, sys
from pathlib import Path
from sandboxes.base import SandboxSpec
from sandboxes.docker import DockerSandbox

async def main():
    sb = DockerSandbox(SandboxSpec(backend="docker", workspace=Path(sys.argv[1]), run_id="remote-run",
                                   agent_id="far", image="agentorch/sandbox-test:latest", remote=True))
    await sb.start()
    try:
        await sb.write_file("notes/a.txt", "from afar\n")
        text = await sb.read_file("/workspace/notes/a.txt")
        r = await sb.exec("cat notes/a.txt; stat -c %u notes/a.txt", 20)
        mounts = await asyncio.to_thread(sb._api.inspect_container, sb.container_id)
        print(json.dumps({"read": text, "exec": r.output, "session": sb._session.alive,
                          "volume": sb.volume_name,
                          "mounts": [(m["Type"], m.get("Name")) for m in mounts["Mounts"]]}))
    finally:
        await sb.stop()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def second_daemon():
    with second_daemon_running() as daemon:
        yield daemon


def test_file_tools_work_without_any_bind_mount(second_daemon, tmp_path):
    host, _ = second_daemon
    workspace = tmp_path / "not-on-this-host"
    env = {**os.environ, "DOCKER_HOST": host, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(workspace)], capture_output=True,
                         text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["read"] == "from afar\n"
    assert result["exec"] == "from afar\n1000\n"
    assert result["session"] is True
    assert ["volume", result["volume"]] in result["mounts"]
    assert all(kind != "bind" for kind, _ in result["mounts"])
    assert not workspace.exists()  # nothing of the workspace lives on this host
    volumes = docker_cli(host, "volume", "ls", "-q", text=True).stdout.split()
    assert result["volume"] in volumes  # kept after the container went, like a directory


EPHEMERAL = r"""
import asyncio, json, sys
from pathlib import Path
from sandboxes.base import SandboxSpec
from sandboxes.docker import DockerSandbox

async def main():
    sb = DockerSandbox(SandboxSpec(backend="docker", workspace=Path(sys.argv[1]), run_id="remote-run",
                                   agent_id="qa-t1", image="agentorch/sandbox-test:latest", remote=True,
                                   ephemeral=True))
    await sb.start()
    try:
        await sb.write_file("copy.txt", "a QA copy\n")
        info = await asyncio.to_thread(sb._api.inspect_container, sb.container_id)
        print(json.dumps({"read": await sb.read_file("copy.txt"),
                          "mounts": [(m["Type"], m["Destination"]) for m in info["Mounts"]]}))
    finally:
        await sb.stop()

asyncio.run(main())
"""


def test_a_throwaway_workspace_goes_with_its_container(second_daemon, tmp_path):
    """A QA copy on a remote daemon: an anonymous volume, removed with the container."""
    host, _ = second_daemon
    before = set(docker_cli(host, "volume", "ls", "-q", text=True).stdout.split())
    env = {**os.environ, "DOCKER_HOST": host, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", EPHEMERAL, str(tmp_path / "qa")], capture_output=True,
                         text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"read": "a QA copy\n", "mounts": [["volume", "/workspace"]]}
    assert set(docker_cli(host, "volume", "ls", "-q", text=True).stdout.split()) == before
