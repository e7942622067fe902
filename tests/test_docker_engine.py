"""The engine on the docker backend: a team end to end, crash cleanup and resume (real Docker)."""

from __future__ import annotations

import time

import docker
import pytest
from crash_support import CRASH_TEAM, HeadlessRun, check_final, final_state
from docker_support import require_docker
from engine_support import make_team, run_to_end, step

from sandboxes.docker import TEST_IMAGE

pytestmark = pytest.mark.docker


def ours(run_id: str | None = None) -> list:
    client = docker.from_env()
    label = f"agentorch.run={run_id}" if run_id else "agentorch.run"
    return client.containers.list(all=True, filters={"label": label})


async def test_a_team_runs_in_containers_and_they_are_removed(tmp_path):
    require_docker()
    team = make_team(tmp_path, [
        {"id": "a", "direct_communication": ["b"], "script": [
            step("write_file", path="note.txt", content="from a"),
            step("run_command", command="id -u; cat note.txt; ls /workspace"),
            step("send_message", to="b", text="ping", wait_reply=True)]},
        {"id": "b", "script": [step("wait_for_message"),
                               step("run_command", command="cat /workspace/../a/note.txt"),
                               step("reply", text="pong")]},
    ], sandbox={"backend": "docker", "image": TEST_IMAGE})
    engine, w, store = await run_to_end(team, tmp_path, timeout=60)
    a_cmd = w.results("a")[1]["result"]
    assert a_cmd["exit_code"] == 0 and "from a" in a_cmd["output"]
    assert a_cmd["output"].splitlines()[0] != "0", "commands must not run as root"
    assert w.results("b")[1]["result"]["exit_code"] != 0  # a's workspace is not reachable
    assert w.results("a")[2]["result"]["reply"]["text"] == "pong"
    assert engine.agents["a"].sandbox.label != "LOCAL"
    assert ours(engine.run_id) == []
    await store.close()


def test_kill9_then_resume_removes_stale_containers_and_finishes(tmp_path):
    require_docker()
    (tmp_path / "team.yaml").write_text(CRASH_TEAM.replace(
        "sandbox: {backend: local}", f"sandbox: {{backend: docker, image: '{TEST_IMAGE}'}}"))
    other = docker.from_env().containers.run(TEST_IMAGE, ["sleep", "300"], detach=True,
                                             labels={"not.agentorch": "1"})
    try:
        run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
        started = run.until(lambda e: e["type"] == "run_started")
        run.until(lambda e: e["type"] == "console" and e.get("kind") == "command")
        time.sleep(0.2)
        run.kill9()
        run_id = started["run_id"]
        stale = {c.id for c in ours(run_id)}
        assert len(stale) == 2, "the killed run's containers should still be there"
        resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
        rc = resumed.finish()
        stderr = resumed.proc.stderr.read()
        assert rc == 0, stderr
        assert "removed 2 container(s) left by crashed runs" in stderr, stderr
        assert ours(run_id) == [], "containers of the run are left behind"
        other.reload()
        assert other.status == "running", "a container that is not ours was touched"
        assert check_final(final_state(tmp_path)) == []
        files = tmp_path / ".agentorch" / "workspaces" / "a" / "out.txt"
        assert files.read_text() == "done"
    finally:
        other.remove(force=True)


def _headless(tmp_path, team: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    (tmp_path / "team.yaml").write_text(team)
    return subprocess.run([sys.executable, "-m", "tui", "team.yaml", "--headless"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


ONE_AGENT = ("agents:\n  - id: a\n    model: scripted\n"
             "    script: [{tool: run_command, args: {command: 'echo hi'}}]\n")


def test_docker_backend_without_a_daemon_is_one_clear_error(tmp_path):
    proc = _headless(tmp_path, "sandbox: {backend: docker}\n" + ONE_AGENT,
                     {"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "Docker" in proc.stderr and "backend: local" in proc.stderr, proc.stderr


def test_auto_without_a_daemon_falls_back_to_local_and_says_so(tmp_path):
    proc = _headless(tmp_path, "sandbox: {backend: auto}\n" + ONE_AGENT,
                     {"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert proc.returncode == 0, proc.stderr
    assert "UNSANDBOXED" in proc.stderr and "no Docker daemon answered" in proc.stderr
    assert '"backends": {"a": "local"}' in proc.stdout


def test_auto_with_a_daemon_but_a_mistyped_image_is_an_error_never_local(tmp_path):
    require_docker()
    proc = _headless(tmp_path, "sandbox: {backend: auto, image: 'agentorch/sandbox:no-such-tag'}\n"
                     + ONE_AGENT)
    assert proc.returncode == 2, proc.stderr
    assert "Docker image agentorch/sandbox:no-such-tag is not available (not present)" in proc.stderr
    assert "docker build -t agentorch/sandbox:no-such-tag" in proc.stderr, proc.stderr
    assert "UNSANDBOXED" not in proc.stderr and "Traceback" not in proc.stderr
    assert '"type": "tool_call"' not in proc.stdout  # nothing ran anywhere


def test_an_image_is_pulled_only_when_the_team_says_pull(tmp_path):
    require_docker()
    image = "localhost:1/agentorch-typo:latest"  # a pull would try this (closed) registry
    quiet = _headless(tmp_path, f"sandbox: {{backend: docker, image: '{image}'}}\n" + ONE_AGENT)
    assert quiet.returncode == 2
    assert "(not present)" in quiet.stderr and "sandbox.pull: true" in quiet.stderr, quiet.stderr
    pulled = _headless(tmp_path, f"sandbox: {{backend: docker, image: '{image}', pull: true}}\n"
                       + ONE_AGENT)
    assert pulled.returncode == 2
    assert f"Docker image {image} is not available (pull failed" in pulled.stderr, pulled.stderr


def test_a_run_started_in_docker_never_resumes_on_local_quietly(tmp_path):
    require_docker()
    import subprocess
    import sys

    (tmp_path / "team.yaml").write_text(CRASH_TEAM.replace(
        "sandbox: {backend: local}", f"sandbox: {{backend: auto, image: '{TEST_IMAGE}'}}"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    started = run.until(lambda e: e["type"] == "run_started")
    assert set(started["backends"].values()) == {"docker"}
    run.until(lambda e: e["type"] == "console" and e.get("kind") == "command")
    run.kill9()
    import os

    proc = subprocess.run([sys.executable, "-m", "tui", "--resume", "last", "--headless", "--db",
                           "state.db"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL,
                          env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert proc.returncode == 1, proc.stderr
    assert "no Docker daemon answers now" in proc.stderr and "--backend local" in proc.stderr
    assert '"unsandboxed"' not in proc.stdout and '"tool_call"' not in proc.stdout
    for c in ours(started["run_id"]):
        c.remove(force=True)


def test_the_demo_alone_runs_local_when_its_image_is_missing_and_says_why(tmp_path):
    """`make run` must start on any machine: the built-in demo's fixed scripts may run
    LOCAL when a daemon answers but the image is missing (any other team: an error)."""
    require_docker()
    import os
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "--demo", "--headless", "--auto-approve",
         "--image", "agentorch/sandbox:no-such-tag"],
        cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ})
    started = ""
    for line in proc.stdout:
        if '"type": "run_started"' in line:
            started = line
            break
    proc.stdin.write('{"type": "stop"}\n')
    proc.stdin.close()
    proc.stdout.read()
    stderr = proc.stderr.read()
    assert proc.wait(60) == 1, stderr  # stopped by us before it finished
    assert "Traceback" not in stderr
    assert "UNSANDBOXED" in stderr and "agentorch/sandbox:no-such-tag is not available" in stderr
    assert '"backends": {"planner": "local"' in started, started


def test_auto_names_a_docker_host_that_does_not_answer(tmp_path):
    """DOCKER_HOST set to another machine that is down: the fall-back says which daemon
    did not answer and how to use this machine's instead ("start Docker" would mislead)."""
    proc = _headless(tmp_path, "sandbox: {backend: auto}\n" + ONE_AGENT,
                     {"DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert proc.returncode == 0, proc.stderr
    assert "no Docker daemon answered at tcp://127.0.0.1:1" in proc.stderr, proc.stderr
    assert "unset DOCKER_HOST" in proc.stderr and "Traceback" not in proc.stderr
