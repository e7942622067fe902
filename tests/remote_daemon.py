"""A second dockerd standing in for a Docker daemon on another machine (issue 13's
fixture, shared by tests/test_docker_remote.py and tests/test_workspaces_remote.py).

It runs with its own data root, exec root and Unix socket (no TCP: an unauthenticated
TCP socket would give root to any local process), inside its own network namespace (its
`--bridge=none` would otherwise delete the first daemon's docker0), and gets the offline
test image loaded.  This is the only second dockerd the tests start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker_support import require_docker


def docker_cli(host: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "-H", host, *args], capture_output=True, check=False, **kw)


@contextlib.contextmanager
def second_daemon_running() -> Iterator[tuple[str, Path]]:
    """(DOCKER_HOST value, its folder) of a second daemon, for a module-scoped fixture."""
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
            if docker_cli(host, "info").returncode == 0:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"second dockerd did not answer: {(base / 'log').read_text()[-2000:]}")
        if proc.poll() is not None:
            pytest.fail(f"second dockerd exited: {(base / 'log').read_text()[-2000:]}")
        saved = subprocess.run(["docker", "save", "agentorch/sandbox-test:latest"], capture_output=True, check=True)
        loaded = docker_cli(host, "load", input=saved.stdout)
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
