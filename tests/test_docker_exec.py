"""Streaming exec in the docker sandbox: limits, timeouts, floods, cancel, OOM."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from sandboxes.base import TIMEOUT_EXIT_CODE
from tests.docker_support import make_spec, require_docker, started_sandbox, stop_sandbox

pytestmark = pytest.mark.docker

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    require_docker()
    spec = make_spec(
        tmp_path_factory.mktemp("exec") / "ws",
        agent_id="worker",
        memory="96m",
        pids=64,
        max_output_bytes=LIMIT,
    )
    sb = started_sandbox(spec)
    yield sb
    stop_sandbox(sb)


async def processes(sb) -> list[str]:
    """Command lines of the processes in the container, without the probe itself."""
    r = await sb.exec("for d in /proc/[0-9]*; do tr '\\0\\n' '  ' < $d/cmdline; echo; done", 20)
    return [
        line for line in r.output.splitlines()
        if line.strip() and "/proc/[0-9]" not in line and "agentorch" not in line
        and not line.startswith("tr ")
    ]


async def test_exit_codes_and_streaming(sandbox):
    chunks: list[str] = []

    async def on_output(text: str) -> None:
        chunks.append(text)
        if text.startswith("first"):
            # only possible if "first" arrived while the command still runs: it waits for this
            await sandbox.exec("touch /tmp/streamed", 20)

    r = await sandbox.exec("rm -f /tmp/streamed; echo first; "
                           "while [ ! -e /tmp/streamed ]; do sleep 0.05; done; "
                           "echo second >&2; exit 7", 20, on_output)
    assert r.exit_code == 7 and not r.timed_out and not r.truncated
    assert r.output == "first\nsecond\n"
    assert "".join(chunks) == r.output


async def test_utf8_split_across_chunks(sandbox):
    seen = []

    async def on_output(text: str) -> None:
        seen.append(text)

    r = await sandbox.exec("printf '\\303'; sleep 0.3; printf '\\251t\\303\\251\\n'", 20, on_output)
    assert r.output == "été\n"
    assert "".join(seen) == "été\n"


@pytest.mark.timeout(30)  # the kill does not wait for the 303 s sleep
async def test_timeout_kills_the_whole_tree(sandbox):
    r = await sandbox.exec("echo before; sleep 301 & (sleep 302 &); sleep 303", 1.0)
    assert r.exit_code == TIMEOUT_EXIT_CODE and r.timed_out
    assert "before" in r.output
    left = await processes(sandbox)
    assert not [p for p in left if "sleep 30" in p], left


async def test_background_leftovers_die_with_the_command(sandbox):
    r = await sandbox.exec("sleep 311 & echo started", 20)
    assert r.exit_code == 0 and r.output == "started\n"
    left = await processes(sandbox)
    assert not [p for p in left if "sleep 311" in p], left


async def test_cancel_kills_the_running_command(sandbox):
    running = asyncio.Event()

    async def on_output(text: str) -> None:
        running.set()

    task = asyncio.create_task(sandbox.exec("echo go; sleep 321", 100, on_output))
    await asyncio.wait_for(running.wait(), 10)
    assert [p for p in await processes(sandbox) if "sleep 321" in p]  # the probe sees it
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 30)  # the kill does not wait for the sleep
    left = await processes(sandbox)
    assert not [p for p in left if "sleep 321" in p], left
    assert (await sandbox.exec("echo still fine", 20)).output == "still fine\n"


async def test_fork_bomb_stopped_by_pids_limit(sandbox):
    r = await sandbox.exec("bomb() { bomb & bomb; }; bomb", 5)
    assert "fork" in r.output.lower() or r.timed_out, r.output[:500]
    assert (await sandbox.exec("echo alive", 20)).output == "alive\n"
    left = await processes(sandbox)
    assert len(left) <= 2, left  # init and its sleep
    assert any("sleep infinity" in p for p in left), left


async def test_memory_hog_is_killed_and_reported(sandbox):
    r = await sandbox.exec("dd if=/dev/zero of=/dev/null bs=400M count=1", 60)
    assert r.exit_code == 137 and not r.timed_out
    assert "ran out of memory" in r.output
    assert "96m" in r.output
    again = await sandbox.exec("echo host fine; exit 0", 20)
    assert again.exit_code == 0 and again.output == "host fine\n"


async def test_output_flood_is_truncated_and_memory_bounded(sandbox):
    flood = 48 * 1024 * 1024
    received = 0

    async def on_output(text: str) -> None:
        nonlocal received
        received += len(text)

    tracemalloc.start()
    try:
        r = await sandbox.exec(f"echo HEAD; head -c {flood} /dev/zero | tr '\\0' x; echo; echo TAIL", 120, on_output)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.exit_code == 0 and r.truncated
    assert r.output.startswith("HEAD\n") and r.output.endswith("TAIL\n")
    assert "output truncated" in r.output
    assert len(r.output.encode()) < LIMIT + 200
    assert received >= flood  # everything was streamed to the console
    assert peak < 12 * 1024 * 1024, f"peak Python memory {peak / 1e6:.1f} MB for a {flood / 1e6:.0f} MB flood"


async def test_slow_consumer_applies_back_pressure(sandbox):
    got = 0

    async def slow(text: str) -> None:
        nonlocal got
        got += len(text)
        await asyncio.sleep(0.01)

    # the command blocks on a full pipe instead of our memory filling up
    r = await sandbox.exec("head -c 4000000 /dev/zero; echo; echo done", 60, slow)
    assert r.exit_code == 0 and r.output.endswith("done\n") and got >= 4000000


async def test_concurrent_commands_in_one_sandbox(sandbox):
    results = await asyncio.gather(*(sandbox.exec(f"sleep 0.5; echo {i}", 20) for i in range(4)))
    assert [r.output for r in results] == [f"{i}\n" for i in range(4)]
