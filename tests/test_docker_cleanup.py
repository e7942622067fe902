"""Crash cleanup: containers of dead runs are removed, nothing else is touched."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from sandboxes.base import SandboxError
from sandboxes.docker import (
    LABEL_HOST,
    LABEL_PID,
    LABEL_RUN,
    TEST_IMAGE,
    DockerSandbox,
    _get_client,
    cleanup_stale_containers,
    docker_available,
    pid_alive,
)
from tests.docker_support import (
    REPO,
    container_exists,
    make_spec,
    remove_container,
    require_docker,
)

pytestmark = pytest.mark.docker

CRASHER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from sandboxes.base import SandboxSpec
    from sandboxes.docker import DockerSandbox

    async def main():
        sb = DockerSandbox(SandboxSpec("docker", Path(sys.argv[1]), sys.argv[2], "crasher",
                                       image=sys.argv[3]))
        await sb.start()
        print(sb.container_id, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def start_crasher(workspace, run_id: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(workspace), run_id, TEST_IMAGE],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline().strip()
    assert line, "the crasher did not start its container"
    return proc, line


def raw_container(labels: dict[str, str]) -> str:
    api = _get_client().api
    cid = api.create_container(TEST_IMAGE, command=["sleep", "infinity"], labels=labels,
                               host_config=api.create_host_config(network_mode="none"))["Id"]
    api.start(cid)
    return cid


def remove(cid: str) -> None:
    remove_container(cid)


async def test_crashed_run_is_cleaned_up_and_nothing_else(tmp_path):
    require_docker()
    proc, crashed = start_crasher(tmp_path / "crash-ws", "crashed-run")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert container_exists(crashed)  # kill -9 left it behind

    foreign = raw_container({"com.example.owner": "someone-else"})
    other_host = raw_container({LABEL_RUN: "elsewhere", LABEL_PID: "1", LABEL_HOST: "other-host"})
    no_pid = raw_container({LABEL_RUN: "legacy-run"})
    live = DockerSandbox(make_spec(tmp_path / "live-ws", agent_id="live", run_id="live-run"))
    await live.start()
    try:
        # without the engine's store: judged by the pid labels only
        removed = await cleanup_stale_containers()
        assert crashed[:12] in removed
        assert not container_exists(crashed)
        for kept in (foreign, other_host, no_pid, live.container_id):
            assert container_exists(kept)
        assert (await live.exec("echo alive", 20)).output == "alive\n"

        # with a store that knows no live run: a live pid still protects its run,
        # another host's run is never judged from here
        removed = await cleanup_stale_containers(lambda run_id: False)
        for kept in (foreign, other_host, live.container_id):
            assert container_exists(kept)
            assert kept[:12] not in removed
        # ... while a run without pid labels goes on the store's word
        assert no_pid[:12] in removed and not container_exists(no_pid)
    finally:
        await live.stop()
        for cid in (foreign, other_host, no_pid):
            remove(cid)
    assert not container_exists(live.container_id or "x")


async def test_store_keeps_a_run_alive(tmp_path):
    require_docker()
    proc, crashed = start_crasher(tmp_path / "ws", "store-alive-run")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    try:
        removed = await cleanup_stale_containers(lambda run_id: run_id == "store-alive-run")
        assert crashed[:12] not in removed and container_exists(crashed)
    finally:
        remove(crashed)


async def test_clean_stop_removes_the_container(tmp_path):
    require_docker()
    sb = DockerSandbox(make_spec(tmp_path / "ws"))
    await sb.start()
    cid = sb.container_id
    labels = _get_client().api.inspect_container(cid)["Config"]["Labels"]
    assert labels[LABEL_RUN] == "test-run" and labels["agentorch.agent"] == "agent"
    assert labels[LABEL_PID] == str(os.getpid())
    await sb.stop()
    assert not container_exists(cid)
    await sb.stop()  # idempotent


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(0) and not pid_alive(-5) and not pid_alive("x")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    assert not pid_alive(os.getpid(), start_time="1")  # reused pid: different start time


async def test_no_daemon_is_a_clear_error(monkeypatch):
    import sandboxes.docker_client as mod

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(mod, "_client", None)
    assert docker_available(timeout=1) is False
    with pytest.raises(SandboxError, match="sandbox.backend: local"):
        await mod.check_docker(TEST_IMAGE)
    monkeypatch.setattr(mod, "_client", None)


async def test_parallel_starts(tmp_path):
    require_docker()
    boxes = [DockerSandbox(make_spec(tmp_path / f"ws{i}", agent_id=f"a{i}")) for i in range(4)]
    await asyncio.gather(*(b.start() for b in boxes))
    try:
        outs = await asyncio.gather(*(b.exec("echo $AGENTORCH_AGENT", 20) for b in boxes))
        assert [o.output for o in outs] == [f"a{i}\n" for i in range(4)]
    finally:
        await asyncio.gather(*(b.stop() for b in boxes))


async def test_stopped_container_is_restarted_on_next_command(tmp_path):
    require_docker()
    sb = DockerSandbox(make_spec(tmp_path / "ws"))
    await sb.start()
    try:
        await asyncio.to_thread(_get_client().api.stop, sb.container_id, timeout=1)
        r = await sb.exec("echo back", 20)
        assert r.exit_code == 0 and r.output == "back\n"
    finally:
        await sb.stop()


async def test_exec_before_start_is_a_clear_error(tmp_path):
    with pytest.raises(SandboxError, match="not started"):
        await DockerSandbox(make_spec(tmp_path / "ws")).exec("true", 5)


async def test_another_databases_crashed_run_keeps_its_containers_until_its_own_start(tmp_path):
    """Two projects (or two test runs) on one machine: project B's start removed A's
    crashed containers, so A's resume could not say what it cleaned (seen in CI)."""
    from engine.stale_runs import cleanup_stale
    from memory.store import Store

    require_docker()
    proc, crashed = start_crasher(tmp_path / "ws", "run-of-project-a")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    said: list[str] = []
    other = await Store.open(tmp_path / "b.db")  # project B: never saw that run
    mine = await Store.open(tmp_path / "a.db")
    try:
        await cleanup_stale(other, said.append)
        assert container_exists(crashed) and said == []
        mine.create_run("run-of-project-a", "a", None, ["crasher"], {})
        mine.execute("UPDATE runs SET pid=? WHERE id=?", (proc.pid, "run-of-project-a"))
        await mine.flush()
        await cleanup_stale(mine, said.append)  # A's own next start
        assert not container_exists(crashed)
        assert said == ["removed 1 container(s) left by crashed runs"]
    finally:
        await other.close()
        await mine.close()
        remove(crashed)
