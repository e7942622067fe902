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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.docker_support import REPO, require_docker

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


def _docker(host: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "-H", host, *args], capture_output=True, check=False, **kw)


@pytest.fixture(scope="module")
def second_daemon():
    require_docker()
    if os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("unshare"):
        why = "a second dockerd needs root, dockerd and unshare"
        if os.environ.get("AGENTORCH_REQUIRE_DOCKER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="ao-d2-", dir="/tmp"))  # short: socket paths <= 108 bytes
    host = f"unix://{base}/sock"
    log = open(base / "log", "wb")  # noqa: SIM115 - closed in teardown
    # its own network namespace: a second daemon must not touch the first one's docker0
    proc = subprocess.Popen(
        ["unshare", "--net", "dockerd", "--data-root", str(base / "data"), "--exec-root", str(base / "x"),
         "--pidfile", str(base / "pid"), "--host", host, "--bridge=none", "--iptables=false",
         "--ip-masq=false"], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        for _ in range(120):
            if _docker(host, "info").returncode == 0:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"second dockerd did not answer: {(base / 'log').read_text()[-2000:]}")
        if proc.poll() is not None:
            pytest.fail(f"second dockerd exited: {(base / 'log').read_text()[-2000:]}")
        saved = subprocess.run(["docker", "save", "agentorch/sandbox-test:latest"], capture_output=True, check=True)
        loaded = _docker(host, "load", input=saved.stdout)
        assert loaded.returncode == 0, loaded.stderr
        yield host, base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


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
    volumes = _docker(host, "volume", "ls", "-q", text=True).stdout.split()
    assert result["volume"] in volumes  # kept after the container went, like a directory
