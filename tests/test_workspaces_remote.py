"""`repo:` with a Docker daemon on another machine (issue 15), end to end through the CLI.

A second dockerd (tests/remote_daemon.py) stands in for the remote daemon, reached with
DOCKER_HOST as a user would.  The agent's clone is made here and shipped into a volume
on that daemon as data; nothing is bind-mounted; checkpoints, diff, merge, rollback and
a resume after kill -9 all work on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from crash_support import CLI, ROOT, HeadlessRun
from git_repos import make_repo, user_git

from sandboxes.docker import TEST_IMAGE
from sandboxes.docker_client import daemon_is_remote
from sandboxes.workspaces.git import git_text
from sandboxes.workspaces.repo import EngineRepo, agent_branch, checkpoint_ref
from tests.remote_daemon import docker_cli, second_daemon_running

pytestmark = pytest.mark.docker

TEAM = """\
name: faraway
repo: proj
sandbox: {{backend: docker, image: "{image}", remote: {remote}}}
defaults: {{model: scripted}}
agents:
  - id: a
    script:
      - {{tool: write_file, args: {{path: docs/new.md, content: "# new\\n"}}}}
      - {{tool: run_command, args: {{command: "echo more >> README.md && chmod +x tool.sh && cat .git/HEAD && id -u"}}}}
      - {{tool: ask_user, args: {{question: "look now?", options: ["yes"]}}}}
      - {{tool: finish, args: {{summary: done}}}}
"""


@pytest.fixture(scope="module")
def second_daemon():
    with second_daemon_running() as daemon:
        yield daemon


@pytest.fixture
def far(second_daemon, monkeypatch):
    """DOCKER_HOST set to the second daemon for the CLI processes the test starts."""
    host, _ = second_daemon
    monkeypatch.setenv("DOCKER_HOST", host)
    return host


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CLI, *args, "--db", "state.db"], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=180, check=False)


def in_volume(host: str, volume: str, command: str) -> str:
    """Run ``command`` in a throwaway container on the far daemon with ``volume`` at /w."""
    done = docker_cli(host, "run", "--rm", "--network", "none", "-v", f"{volume}:/w", TEST_IMAGE,
                      "sh", "-c", command, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def containers(host: str, run_id: str) -> list[dict]:
    ids = docker_cli(host, "ps", "-q", "--filter", f"label=agentorch.run={run_id}",
                     text=True).stdout.split()
    return json.loads(docker_cli(host, "inspect", *ids, text=True).stdout) if ids else []


def test_a_team_with_repo_works_on_a_remote_daemon_without_any_bind_mount(far, tmp_path):
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n", "tool.sh": "echo hi\n",
                                         "src/app.py": "x = 1\n"})
    (tmp_path / "team.yaml").write_text(TEAM.format(image=TEST_IMAGE, remote="true"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    started = run.until(lambda e: e["type"] == "run_started")
    run_id = started["run_id"]
    question = run.until(lambda e: e["type"] == "interrupt", answer=False)
    # while the agent waits: its container has its workspace volume and nothing of ours
    [info] = containers(far, run_id)
    volume = f"agentorch-ws-{run_id}-a"
    assert [(m["Type"], m.get("Name"), m["Destination"]) for m in info["Mounts"]] == [
        ("volume", volume, "/workspace")]
    assert not info["HostConfig"].get("Binds") or all(
        b.startswith(volume + ":") for b in info["HostConfig"]["Binds"])
    run.send({"type": "answer", "interrupt": question["id"], "text": "yes"})
    assert run.finish() == 0

    results = [e for e in run.events if e["type"] == "tool_result" and e.get("agent") == "a"]
    shell = next(r["result"] for r in results if isinstance(r.get("result"), dict)
                 and "exit_code" in r["result"])
    assert shell["exit_code"] == 0, shell
    assert shell["output"] == f"ref: refs/heads/{agent_branch(run_id, 'a')}\n1000\n"
    cps = [e for e in run.events if e["type"] == "checkpoint"]
    assert [sorted(c["files"]) for c in cps] == [["docs/new.md"], ["README.md", "tool.sh"]]
    notes = [e["text"] for e in run.events if e["type"] == "notice" and "volume there" in e["text"]]
    assert notes == [f"Docker daemon at {far}: each agent's workspace is a volume there "
                     f"(agentorch-ws-{run_id}-AGENT) and nothing of this machine is bound in"]
    # nothing of the workspace on this machine: the clone was shipped, its folder removed
    assert not (tmp_path / ".agentorch" / "workspaces").exists()
    assert not any((tmp_path / "git").glob("seeds/*/*"))

    diff = cli(tmp_path, "diff", run_id, "a")
    assert diff.returncode == 0, diff.stderr
    assert "+more\n" in diff.stdout and "+# new\n" in diff.stdout

    merged = cli(tmp_path, "merge", run_id, "a")
    assert merged.returncode == 0, merged.stderr
    assert (repo / "README.md").read_text() == "hello\nmore\n"
    assert (repo / "docs" / "new.md").read_text() == "# new\n"
    assert user_git(repo, "status", "--porcelain") == ""

    back = cli(tmp_path, "rollback", run_id, "a", "base")
    assert back.returncode == 0, back.stderr
    assert in_volume(far, volume, "cat /w/README.md; ls /w/docs 2>&1; stat -c %a /w/tool.sh; "
                     "stat -c %u /w/README.md") == (
        "hello\nls: /w/docs: No such file or directory\n644\n1000\n")
    er = EngineRepo.for_project(tmp_path, repo)
    head = er.ref(checkpoint_ref(run_id, "a"))
    assert git_text(["show", f"{head}:README.md"], git_dir=er.git_dir) == "hello"
    assert containers(far, run_id) == []  # the rollback's container went too

    cleaned = cli(tmp_path, "clean", run_id, "--force")
    assert cleaned.returncode == 0, cleaned.stderr
    assert volume not in docker_cli(far, "volume", "ls", "-q", text=True).stdout.split()


def test_kill9_then_resume_keeps_the_volume_and_the_branch(far, tmp_path):
    make_repo(tmp_path / "proj", {"README.md": "hello\n", "tool.sh": "echo hi\n"})
    (tmp_path / "team.yaml").write_text(TEAM.format(image=TEST_IMAGE, remote="true"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run_id = run.until(lambda e: e["type"] == "run_started")["run_id"]
    run.until(lambda e: e["type"] == "interrupt", answer=False)
    run.kill9()
    volume = f"agentorch-ws-{run_id}-a"
    assert "more" in in_volume(far, volume, "cat /w/README.md")
    resumed = HeadlessRun(["--resume", run_id, "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish() == 0
    assert in_volume(far, volume, "cat /w/README.md /w/.git/HEAD") == (
        f"hello\nmore\nref: refs/heads/{agent_branch(run_id, 'a')}\n")
    again = [e for e in resumed.events if e["type"] == "workspace"]
    assert again == [], "the clone was kept, not made again"


def test_a_volume_gone_before_the_resume_comes_back_as_the_latest_checkpoint(far, tmp_path):
    make_repo(tmp_path / "proj", {"README.md": "hello\n", "tool.sh": "echo hi\n"})
    (tmp_path / "team.yaml").write_text(TEAM.format(image=TEST_IMAGE, remote="true"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run_id = run.until(lambda e: e["type"] == "run_started")["run_id"]
    run.until(lambda e: e["type"] == "interrupt", answer=False)
    run.kill9()
    volume = f"agentorch-ws-{run_id}-a"
    for old in docker_cli(far, "ps", "-aq", "--filter", f"label=agentorch.run={run_id}",
                          text=True).stdout.split():
        docker_cli(far, "rm", "-f", old)
    assert docker_cli(far, "volume", "rm", volume).returncode == 0  # e.g. `docker volume prune`
    resumed = HeadlessRun(["--resume", run_id, "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish() == 0
    notes = [e["text"] for e in resumed.events if e["type"] == "notice" and e.get("agent") == "a"]
    assert "a's workspace was gone; it was made again from its latest checkpoint " \
           "(what its own .git held beyond that is lost)" in notes
    assert in_volume(far, volume, "cat /w/README.md /w/docs/new.md /w/.git/HEAD") == (
        f"hello\nmore\n# new\nref: refs/heads/{agent_branch(run_id, 'a')}\n")
    assert [e for e in resumed.events if e["type"] == "checkpoint"] == [], "nothing changed"


def test_network_rules_on_a_remote_daemon_are_refused_in_one_sentence(tmp_path):
    """Judged before any container starts (here against this machine's daemon named remote)."""
    from docker_support import require_docker

    require_docker()
    make_repo(tmp_path / "proj")
    team = TEAM.format(image=TEST_IMAGE, remote="true").replace(
        "  - id: a\n", "  - id: a\n    network: {allow: [pypi.org]}\n")
    (tmp_path / "team.yaml").write_text(team)
    done = cli(tmp_path, "team.yaml", "--headless")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "agent a's network rules (`network: {allow, deny}`) need the Docker daemon on this " \
           "machine" in done.stderr + done.stdout
    assert "`sandbox: {remote: false}`" in done.stderr + done.stdout


@pytest.mark.parametrize(("setting", "host", "remote"), [
    ("auto", "", False), ("auto", "unix:///var/run/docker.sock", False),
    ("auto", "tcp://10.0.0.5:2376", True), ("auto", "ssh://me@box", True),
    ("auto", "https://docker.example.com", True), (False, "ssh://me@box", False),
    (True, "", True),
])
def test_the_daemon_is_remote_when_docker_host_says_so_or_the_team_does(setting, host, remote):
    assert daemon_is_remote(setting, host) is remote


def test_an_ssh_docker_host_uses_the_system_ssh_client(monkeypatch):
    from sandboxes.docker_client import _client_options

    monkeypatch.setenv("DOCKER_HOST", "ssh://me@box")
    assert _client_options() == {"use_ssh_client": True}
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/docker.sock")
    assert _client_options() == {}


SSH_SHIM = """#!/bin/sh
# stands in for the network hop of DOCKER_HOST=ssh://box: what follows the host (the
# remote command) runs here through a shell, as sshd would, against the second daemon
echo "ssh $*" >> "{log}"
while [ $# -gt 0 ]; do a="$1"; shift; [ "$a" = "--" ] && break; done
shift
DOCKER_HOST="{host}" exec sh -c "$*"
"""


def test_docker_host_ssh_just_works_with_the_session_and_the_clone(second_daemon, monkeypatch,
                                                                   tmp_path):
    """DOCKER_HOST=ssh://… and nothing else set: remote by default, through the system's
    ssh client (here a stand-in on PATH for the hop to another machine), commands over
    one session (not one exec each), the clone shipped, checkpoints back."""
    pytest.importorskip("paramiko", reason="docker[ssh] is not installed: `make test` installs it")
    host, _ = second_daemon
    shim = tmp_path / "bin" / "ssh"
    shim.parent.mkdir()
    shim.write_text(SSH_SHIM.format(log=tmp_path / "ssh.log", host=host))
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@box")
    make_repo(tmp_path / "proj", {"README.md": "hello\n", "tool.sh": "echo hi\n"})
    (tmp_path / "team.yaml").write_text(TEAM.format(image=TEST_IMAGE, remote="auto"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run_id = run.until(lambda e: e["type"] == "run_started")["run_id"]
    assert run.finish() == 0
    cps = [e for e in run.events if e["type"] == "checkpoint"]
    assert [sorted(c["files"]) for c in cps] == [["docs/new.md"], ["README.md", "tool.sh"]]
    console = "".join(e.get("text", "") for e in run.events if e["type"] == "console")
    assert f"ref: refs/heads/{agent_branch(run_id, 'a')}\n1000\n" in console
    assert "no exec session" not in console, "commands went over the session"
    calls = (tmp_path / "ssh.log").read_text().splitlines()
    assert calls and all(c == "ssh -l me -- box docker system dial-stdio" for c in calls)
    assert not (tmp_path / ".agentorch" / "workspaces").exists()
    done = docker_cli(host, "ps", "-aq", "--filter", f"label=agentorch.run={run_id}", text=True)
    assert done.stdout.split() == []


@pytest.mark.parametrize("gnu_tar", [True, False])
def test_the_shipped_stream_gives_every_entry_to_the_sandbox_user(gnu_tar, monkeypatch, tmp_path):
    """GNU tar where there is one, Python's tarfile otherwise: the same entries, owned by
    the sandbox user, symlinks as links (never followed), modes kept."""
    import tarfile

    from sandboxes.remote_workspace import _count, _tar

    seed = tmp_path / "seed"
    (seed / "src").mkdir(parents=True)
    (seed / "src" / "app.py").write_text("x = 1\n")
    (seed / "run.sh").write_text("echo hi\n")
    (seed / "run.sh").chmod(0o755)
    (seed / "pw").symlink_to("/etc/passwd")
    if not gnu_tar:
        monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    with open(tmp_path / "out.tar", "w+b") as stream:
        _tar(seed, stream, 1000, 1000)
        stream.seek(0)
        with tarfile.open(fileobj=stream) as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
    members.pop(".", None)
    assert sorted(members) == ["pw", "run.sh", "src", "src/app.py"]
    assert {(m.uid, m.gid) for m in members.values()} == {(1000, 1000)}
    assert members["pw"].issym() and members["pw"].linkname == "/etc/passwd"
    assert members["run.sh"].mode & 0o777 == 0o755
    assert _count(seed) == 5


def test_an_unreachable_ssh_daemon_says_what_to_check(monkeypatch, tmp_path):
    pytest.importorskip("paramiko", reason="docker[ssh] is not installed: `make test` installs it")
    shim = tmp_path / "bin" / "ssh"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\necho \"ssh $*\" >> {tmp_path}/ssh.log\n"
                    "echo 'ssh: Could not resolve hostname box' >&2\nexit 255\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_HOST", "ssh://me@box:2222")
    make_repo(tmp_path / "proj")
    (tmp_path / "team.yaml").write_text(TEAM.format(image=TEST_IMAGE, remote="auto"))
    done = cli(tmp_path, "team.yaml", "--headless")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert ("the Docker daemon at ssh://me@box:2222 does not answer (ssh: Could not resolve "
            "hostname box); " in done.stderr
            and "check that `ssh -p 2222 me@box docker version` works" in done.stderr), done.stderr
    assert "Could not resolve" not in done.stderr.replace("(ssh: Could not resolve", ""), \
        "ssh's own stderr is kept off the terminal"
    assert (tmp_path / "ssh.log").read_text().splitlines()[0] == (
        "ssh -l me -p 2222 -- box docker system dial-stdio"), "a port named in DOCKER_HOST is passed"


async def test_qa_on_a_remote_daemon_runs_on_a_copy_in_a_volume_that_goes_with_it(tmp_path):
    """The workflow's QA with `repo:` on a daemon treated as remote (here this machine's,
    which works the same): the task's branch goes into an anonymous volume of a fresh
    container, removed with it; only the agent's own volume is left."""
    from docker_support import require_docker
    from engine_support import make_team, run_to_end, step
    from workflow_support import last_task, one_task, planner, wait

    require_docker()
    make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    coder = {"id": "coder", "script": [
        wait(), step("write_file", path="result.txt", content="the answer is 42"),
        step("submit_task", task_id="t1", summary="answered"), step("finish", summary="c")]}
    team = make_team(tmp_path, [planner(one_task()), coder], repo="proj",
                     workflow={"goal": "g", "planner": "planner",
                               "qa": "hostname; cat result.txt README.md; ls -a"},
                     sandbox={"backend": "docker", "image": TEST_IMAGE, "remote": True})
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=120, auto_approve=True)
    await store.close()
    final = last_task(watcher, "t1")
    try:
        assert final["state"] == "done", final
        assert final["qa_output"].startswith("qa-t1\nthe answer is 42hello\n"), final["qa_output"]
        volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                                  f"label=agentorch.run={engine.run_id}"], capture_output=True,
                                 text=True, check=True).stdout.split()
        assert sorted(volumes) == [f"agentorch-ws-{engine.run_id}-coder",
                                   f"agentorch-ws-{engine.run_id}-planner"]
    finally:
        for name in [f"agentorch-ws-{engine.run_id}-coder", f"agentorch-ws-{engine.run_id}-planner"]:
            subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True, check=False)


def test_docker_host_tcp_with_tls_writes_files_whole(second_daemon, monkeypatch, tmp_path):
    """tcp:// with TLS (a TLS front on the second daemon's socket, client certificate
    required): the daemon is verified with DOCKER_CERT_PATH's CA even when
    REQUESTS_CA_BUNDLE names another, and files the agent writes arrive whole (TLS has no
    half-close: they used to arrive empty); commands fall back to one exec each."""
    pytest.importorskip("cryptography")
    import time as _time

    from tests.tls_front import make_certs

    host, _ = second_daemon
    certs = tmp_path / "certs"
    make_certs(certs)
    port_file = tmp_path / "port"
    front = subprocess.Popen([sys.executable, str(ROOT / "tests" / "tls_front.py"),
                              host[len("unix://"):], str(certs), str(port_file)])
    try:
        deadline = _time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text():
            assert front.poll() is None and _time.monotonic() < deadline, "the TLS front did not start"
            _time.sleep(0.05)
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port_file.read_text()}")
        monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
        monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
        make_repo(tmp_path / "proj", {"README.md": "hello\n", "tool.sh": "echo hi\n"})
        (tmp_path / "team.yaml").write_text(TEAM.format(image=TEST_IMAGE, remote="auto"))
        run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
        run_id = run.until(lambda e: e["type"] == "run_started")["run_id"]
        assert run.finish() == 0, run.proc.stderr.read()[-2000:]
    finally:
        front.terminate()
        front.wait(10)
    cps = [e for e in run.events if e["type"] == "checkpoint"]
    assert [sorted(c["files"]) for c in cps] == [["docs/new.md"], ["README.md", "tool.sh"]]
    er = EngineRepo.for_project(tmp_path, tmp_path / "proj")
    assert git_text(["show", f"{cps[0]['commit']}:docs/new.md"], git_dir=er.git_dir) == "# new"
    assert in_volume(host, f"agentorch-ws-{run_id}-a", "cat /w/docs/new.md") == "# new\n"
