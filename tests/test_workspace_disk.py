"""Workspace size limit (issue 10, part 6): a full workspace never fills the host disk.

As root with Docker the workspace is its own loop-mounted ext4 file system of the
limit's size: an agent writing far past it gets ENOSPC from the kernel, the
host disk receives at most the limit, and the agent is paused with a `disk`
interrupt through the real engine.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from sandboxes.workspace_disk import image_path, parse_size
from tests.docker_support import make_spec, require_docker

pytestmark = pytest.mark.docker

LIMIT = "64m"


def unmount(workspace) -> None:
    if os.path.ismount(workspace):
        subprocess.run(["umount", "-l", str(workspace)], check=False)


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.skip("the file-system limit needs root (measured mode is tested elsewhere)")


def test_sizes_parse_like_docker_memory():
    assert parse_size("2g") == 2 << 30
    assert parse_size("512m") == 512 << 20
    assert parse_size("1.5GiB") == int(1.5 * (1 << 30))
    with pytest.raises(Exception, match="not a size"):
        parse_size("lots")


async def test_an_agent_cannot_write_past_its_limit(tmp_path, root_only):
    require_docker()
    from sandboxes.docker import DockerSandbox

    ws = tmp_path / "ws"
    sb = DockerSandbox(make_spec(ws, agent_id="filler", disk=parse_size(LIMIT)))
    await sb.start()
    try:
        assert os.path.ismount(ws)
        r = await sb.exec("dd if=/dev/zero of=big bs=1M count=500 2>&1; echo rc=$?", 120)
        assert "No space left" in r.output or "rc=1" in r.output, r.output
        problem = await sb.disk_problem()
        assert problem and "workspace is full" in problem and "filler" in problem
        # the host disk holds at most the limit, whatever the agent wrote
        assert os.stat(image_path(ws)).st_blocks * 512 <= parse_size(LIMIT)
        r = await sb.exec("rm big && echo freed > f && cat f", 20)
        assert r.output == "freed\n"
        assert await sb.disk_problem() is None
    finally:
        await sb.stop()
        unmount(ws)
    assert image_path(ws).exists() and not (ws / "f").exists()  # the data stays in the image


async def test_the_engine_pauses_a_full_agent_with_a_disk_interrupt(tmp_path, root_only):
    require_docker()
    from engine.interrupts import DISK
    from sandboxes.docker import TEST_IMAGE
    from tests.engine_support import make_team, start, step

    team = make_team(tmp_path, [{
        "id": "filler", "type": "worker", "sandbox_path": "ws", "resources": {"disk": LIMIT},
        "script": [step("run_command", command="dd if=/dev/zero of=big bs=1M count=200 2>/dev/null; echo wrote"),
                   step("run_command", command="rm big; echo freed"),
                   step("finish", summary="filled it, then freed it")]}],
        sandbox={"backend": "docker", "image": TEST_IMAGE})
    engine, watcher, store = await start(team, tmp_path)
    try:
        raised = await watcher.wait_for("interrupt", "filler", timeout=60, kind=DISK)
        assert "workspace is full" in raised.data["prompt"]
        assert engine.agents["filler"].status == "waiting_user"
        await engine.approve(raised.data["id"])
        await watcher.wait_for("agent_status", "filler", timeout=60, status="done")
        assert "freed" in str(watcher.results("filler"))
    finally:
        await engine.stop()
        await store.close()
        unmount(tmp_path / "ws")
