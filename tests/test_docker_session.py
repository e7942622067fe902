"""The exec session: one supervisor per container, commands over one attached stream.

Each test is what an agent's own commands could do to the session: detach
processes, ignore signals, kill the supervisor, flood it, run in parallel, on an
image whose /tmp is not world-writable.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from sandboxes.base import TIMEOUT_EXIT_CODE
from tests.docker_support import TMP755_IMAGE, make_spec, require_docker, started_sandbox, stop_sandbox

pytestmark = pytest.mark.docker

LEFTOVER_PROBE = "for d in /proc/[0-9]*; do { tr '\\0' ' ' < $d/cmdline; } 2>/dev/null; echo; done"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    require_docker()
    sb = started_sandbox(make_spec(tmp_path_factory.mktemp("session") / "ws", image=TMP755_IMAGE,
                                   agent_id="sess", pids=128, max_output_bytes=256 * 1024))
    yield sb
    stop_sandbox(sb)


async def leftovers(sb) -> list[str]:
    """Command lines of every process in the container but its own machinery and the probe."""
    r = await sb.exec(LEFTOVER_PROBE, 20)
    machinery = ("docker-init", "sleep infinity", ".agentorch/supervisor")
    return [line for line in r.output.splitlines()
            if line.strip() and not any(m in line for m in machinery) and "/proc/[0-9]" not in line
            and not line.startswith("tr ")]


async def test_commands_use_the_session_and_tmp_is_writable_on_a_755_image(sandbox):
    r = await sandbox.exec("stat -c '%a' /tmp; echo hi > /tmp/x && cat /tmp/x; echo $HOME", 20)
    assert r.output == "1777\nhi\n/tmp\n", r.output
    assert sandbox._session is not None and sandbox._session.alive
    assert not sandbox._fallback


@pytest.mark.timeout(20)
async def test_timeout_kills_the_whole_tree_on_a_755_image(sandbox):
    r = await sandbox.exec("sleep 30 & sleep 31; echo never", 2)
    assert r.exit_code == TIMEOUT_EXIT_CODE and r.timed_out
    assert "never" not in r.output
    assert "Permission denied" not in r.output
    assert await leftovers(sandbox) == []


@pytest.mark.parametrize("command", [
    "sleep 1000 & echo started",
    "(setsid sleep 1003 &); echo started",
    "sh -c 'sh -c \"sleep 1004 &\" &'; echo started",            # double fork
    "setsid sh -c 'trap \"\" TERM HUP; sleep 1005' & echo started",
    "nohup sleep 1006 >/dev/null 2>&1 & echo started",
])
async def test_nothing_a_command_started_outlives_it(sandbox, command):
    r = await sandbox.exec(command, 20)
    assert r.exit_code == 0 and "started" in r.output
    assert await leftovers(sandbox) == []


@pytest.mark.timeout(20)
async def test_a_command_that_ignores_sigterm_is_still_killed(sandbox):
    r = await sandbox.exec("trap '' TERM INT HUP; sleep 30", 1)
    assert r.timed_out and r.exit_code == TIMEOUT_EXIT_CODE
    assert await leftovers(sandbox) == []


async def test_fresh_shell_per_command_nothing_carries_over(sandbox):
    r = await sandbox.exec("export PATH=/nowhere; alias ls=rm; f() { :; }; X=1; cd /tmp", 20)
    assert r.exit_code == 0
    r = await sandbox.exec("echo \"$PATH|$X|$(pwd)\"; type f 2>&1 | head -1; alias 2>&1", 20)
    first = r.output.splitlines()[0]
    assert first.endswith("||/workspace") and "/nowhere" not in first, r.output
    assert "rm" not in r.output


async def test_two_commands_of_one_agent_run_in_parallel(sandbox):
    # each waits for the other's file: only possible if both run at the same time
    a = sandbox.exec("touch /tmp/a-here; while [ ! -e /tmp/b-here ]; do sleep 0.05; done; echo a", 20)
    b = sandbox.exec("touch /tmp/b-here; while [ ! -e /tmp/a-here ]; do sleep 0.05; done; echo b", 20)
    ra, rb = await asyncio.gather(a, b)
    assert (ra.output, rb.output) == ("a\n", "b\n")
    assert not ra.timed_out and not rb.timed_out


async def test_binary_output_and_interleaved_streams(sandbox):
    r = await sandbox.exec("printf 'a\\n'; printf 'b\\n' >&2; printf 'c\\n'; printf '\\377\\376\\0z'", 20)
    assert r.output.startswith("a\nb\nc\n")
    assert r.output.endswith("\ufffd\ufffd\x00z")


async def test_a_30_mb_flood_is_capped_and_streamed(sandbox):
    seen = 0

    async def on_output(text: str) -> None:
        nonlocal seen
        seen += len(text)

    r = await sandbox.exec("head -c 30000000 /dev/zero | tr '\\0' 'a'; echo; echo END", 60, on_output)
    assert r.exit_code == 0 and r.truncated
    assert seen == 30_000_000 + 5
    assert r.output.rstrip().endswith("END") and "output truncated" in r.output
    assert len(r.output) < 300 * 1024


async def test_the_supervisor_killed_from_inside_interrupts_then_recovers(sandbox):
    await sandbox.exec("true", 10)
    pid = sandbox._session.pid
    assert pid
    r = await sandbox.exec(f"echo before; kill -9 {pid}; sleep 5; echo after", 20)
    assert r.interrupted and "interrupted" in r.output and "after" not in r.output
    assert r.as_dict()["interrupted"] is True
    r = await sandbox.exec("echo works again", 20)
    assert r.exit_code == 0 and r.output == "works again\n"
    assert await leftovers(sandbox) == []


async def test_the_agent_cannot_reach_into_the_supervisor(sandbox):
    await sandbox.exec("true", 10)
    pid = sandbox._session.pid
    # forge frames on its stdout, read its stdin: its /proc entries are root's
    r = await sandbox.exec(f"printf 'X\\0\\0\\0\\1' > /proc/{pid}/fd/1 && echo forged; "
                           f"cat /proc/{pid}/fd/0 </dev/null >/dev/null && echo opened; echo done", 20)
    assert "forged" not in r.output and "opened" not in r.output
    assert r.output.rstrip().endswith("done")


async def test_file_tools_run_in_the_container_and_refuse_fifos_at_once(sandbox):
    content = "line\u00e9\n" * 1000
    await sandbox.write_file("sub/dir/f.txt", content)
    assert await sandbox.read_file("/workspace/sub/dir/f.txt") == content
    r = await sandbox.exec("stat -c '%u' sub/dir/f.txt; mkfifo pipe; echo ok", 20)
    assert r.output.splitlines()[0] == sandbox.user.split(":")[0]
    from sandboxes.base import PathEscapeError
    with pytest.raises(PathEscapeError, match="not a regular file"):
        await sandbox.read_file("pipe")
    with pytest.raises(PathEscapeError, match="not a regular file"):
        await sandbox.write_file("pipe", "x")
    await sandbox.exec("ln -sf /dev/zero zero-link", 5)
    with pytest.raises(PathEscapeError):
        await sandbox.read_file("zero-link")


async def test_written_content_round_trips_byte_for_byte(sandbox):
    blob = "".join(chr(c) for c in range(1, 0x2000) if not 0xD800 <= c <= 0xDFFF) * 20
    await sandbox.write_file("blob.txt", blob)
    r = await sandbox.exec("sha256sum blob.txt", 20)
    assert r.output.split()[0] == hashlib.sha256(blob.encode()).hexdigest()


async def test_what_ran_under_a_killed_supervisor_is_gone_before_the_next_command(sandbox):
    await sandbox.exec("true", 10)
    pid = sandbox._session.pid
    r = await sandbox.exec(f"(setsid sleep 1009 &); kill -9 {pid}; sleep 5", 20)
    assert r.interrupted
    # the probe is the new session's first command: the detached sleep must already be gone
    assert await leftovers(sandbox) == []


@pytest.mark.timeout(60)
async def test_a_supervisor_stopped_from_inside_is_replaced(sandbox):
    """kill -STOP of the supervisor (same uid) freezes it: the command is reported
    interrupted once its timeout and a grace period pass, and a new session takes over."""
    await sandbox.exec("true", 10)
    pid = sandbox._session.pid
    r = await sandbox.exec(f"kill -STOP {pid}; echo stopped", 1)
    assert r.interrupted and "stopped answering" in r.output
    r = await sandbox.exec("echo fresh", 10)
    assert r.output == "fresh\n" and sandbox._session.pid != pid
    assert await leftovers(sandbox) == []


async def test_a_persons_shell_survives_the_agents_commands_while_sweeps_are_held(sandbox):
    """The take-over key opens `docker exec -it` as the sandbox user: the idle sweep
    must spare it while it is open, and resume once the person leaves."""
    import subprocess

    await sandbox.hold_sweeps(True)
    person = subprocess.Popen(["docker", "exec", "-u", sandbox.user, sandbox.container_id,
                               "sleep", "1010"])
    try:
        while "sleep 1010" not in " ".join(await leftovers(sandbox)):
            await asyncio.sleep(0.05)
        r = await sandbox.exec("echo agent command; sleep 1011 & echo bg", 20)
        assert r.exit_code == 0
        assert person.poll() is None  # the person's shell is alive
        assert any("sleep 1010" in line for line in await leftovers(sandbox))
    finally:
        await sandbox.hold_sweeps(False)
        person.wait(20)  # released and idle: swept at once
    assert await leftovers(sandbox) == []


async def test_a_failing_output_consumer_kills_the_command(sandbox):
    async def broken(_text: str) -> None:
        raise RuntimeError("the consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        await asyncio.wait_for(sandbox.exec("echo go; sleep 1012", 60, broken), 20)
    for _ in range(200):
        if not any("sleep 1012" in line for line in await leftovers(sandbox)):
            break
    assert await leftovers(sandbox) == []
