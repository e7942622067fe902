"""Local backend: nothing a command starts outlives it (issue 10, part 4).

The local backend is not a sandbox, but a command's processes must still die
with it: detached with setsid, double-forked, ignoring SIGTERM, or timed out.
Each case is checked against the host's real process table.
"""

from __future__ import annotations

import os
import secrets

import pytest

from sandboxes.base import TIMEOUT_EXIT_CODE, SandboxSpec
from sandboxes.local import LocalSandbox


def running_with(marker: str) -> list[int]:
    """Pids on this host whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != b"Z":
            found.append(int(entry))
    return found


@pytest.fixture
async def sandbox(tmp_path):
    sb = LocalSandbox(SandboxSpec(backend="local", workspace=tmp_path / "ws", run_id="r", agent_id="a"))
    await sb.start()
    yield sb
    await sb.stop()


@pytest.mark.parametrize("shape", [
    "sleep {t} & echo started",
    "(setsid sleep {t} &); echo started",
    "sh -c 'sh -c \"sleep {t} &\" &'; echo started",
    "setsid sh -c 'trap \"\" TERM HUP; sleep {t}' & echo started",
    "nohup sleep {t} >/dev/null 2>&1 & echo started",
])
async def test_detached_processes_die_with_the_command(sandbox, shape):
    seconds = f"{900 + secrets.randbelow(99)}.{secrets.randbelow(10**6)}"  # a unique command line
    r = await sandbox.exec(shape.format(t=seconds), 20)
    assert r.exit_code == 0 and "started" in r.output
    assert sandbox._session is not None, sandbox._fallback
    assert running_with(f"sleep {seconds}") == []


@pytest.mark.timeout(20)
async def test_a_timeout_kills_a_tree_that_ignores_sigterm(sandbox):
    seconds = f"{800 + secrets.randbelow(99)}.{secrets.randbelow(10**6)}"
    r = await sandbox.exec(f"trap '' TERM; (setsid sleep {seconds} &); sleep {seconds}", 1)
    assert r.timed_out and r.exit_code == TIMEOUT_EXIT_CODE
    assert running_with(f"sleep {seconds}") == []


async def test_stopping_the_sandbox_ends_a_running_command_tree(tmp_path):
    sb = LocalSandbox(SandboxSpec(backend="local", workspace=tmp_path / "ws", run_id="r", agent_id="b"))
    await sb.start()
    seconds = f"{700 + secrets.randbelow(99)}.{secrets.randbelow(10**6)}"
    import asyncio

    task = asyncio.ensure_future(sb.exec(f"sleep {seconds}", 60))
    while not running_with(f"sleep {seconds}"):
        await asyncio.sleep(0.01)
    await sb.stop()
    await asyncio.wait({task}, timeout=10)
    assert task.done()
    assert running_with(f"sleep {seconds}") == []


async def test_a_failing_output_consumer_kills_the_command(sandbox):
    """If whoever reads the output fails (a store error), the command dies with it."""
    import asyncio

    seconds = f"{600 + secrets.randbelow(99)}.{secrets.randbelow(10**6)}"

    async def broken(_text: str) -> None:
        raise RuntimeError("the consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        await asyncio.wait_for(sandbox.exec(f"echo go; sleep {seconds}", 60, broken), 20)
    async with asyncio.timeout(30):  # the kill is asynchronous: wait for it, not a fixed time
        while running_with(f"sleep {seconds}"):
            await asyncio.sleep(0.02)
