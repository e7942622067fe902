"""Attack: an agent swaps a directory with a symlink to a host directory while its
file tools run (issue 10, part 1).  The file tools run inside the container, so the
host directory is not even in their namespace: no host byte read, none written, no
owner changed, however the race falls.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from sandboxes.docker import DockerSandbox
from sandboxes.hostfs import remove_tree
from tests.docker_support import make_spec, require_docker, started_sandbox, stop_sandbox

pytestmark = pytest.mark.docker

ATTEMPTS = 300  # 10,000 in the slow stage
SECRET = "TOPSECRET-host-only\n"


@pytest.fixture
def host_dir(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    secret = host / "secret"
    secret.write_text(SECRET)
    os.chmod(secret, 0o600)
    return host


def assert_host_untouched(host) -> None:
    secret = host / "secret"
    st = os.lstat(secret)
    assert secret.read_text() == SECRET
    assert (st.st_uid, st.st_mode & 0o777) == (os.geteuid(), 0o600)
    assert sorted(p.name for p in host.iterdir()) == ["secret"]
    assert os.stat(host).st_uid == os.geteuid()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("attempts", [ATTEMPTS, pytest.param(10_000, marks=pytest.mark.slow)])
async def test_symlink_swap_racer_never_reaches_the_host(tmp_path, host_dir, attempts):
    require_docker()
    sandbox = DockerSandbox(make_spec(tmp_path / "ws", agent_id="racer"))
    await sandbox.start()
    try:
        await sandbox.exec("mkdir -p real && echo inside > real/secret", 10)
        racer = asyncio.ensure_future(sandbox.exec(
            f"while :; do mv real tmp; ln -s {host_dir} real; "
            "rm real; mv tmp real; done", 800))
        leaked, reads, writes = 0, 0, 0
        for n in range(attempts):
            try:
                text = await sandbox.read_file("real/secret")
                reads += 1
                leaked += SECRET.strip() in text
            except Exception:  # noqa: BLE001 - refused or missing mid-swap: both fine
                pass
            try:
                await sandbox.write_file(f"real/new-{n % 7}", "agent data")
                writes += 1
            except Exception:  # noqa: BLE001
                pass
        assert not racer.done()  # the racer ran through every attempt
        racer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await racer
        assert leaked == 0
        assert_host_untouched(host_dir)
    finally:
        await sandbox.stop()
        # `mv real tmp` onto an existing tmp nests: thousands of levels after 10,000
        # attempts, past what shutil.rmtree (pytest's clean-up at exit) can recurse
        remove_tree(tmp_path / "ws")
    assert_host_untouched(host_dir)


def test_starting_on_a_workspace_full_of_host_symlinks_changes_no_owner(tmp_path, host_dir):
    """The old start-up walk chowned what it found; now only the workspace directory itself."""
    require_docker()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "to-secret").symlink_to(host_dir / "secret")
    (ws / "to-dir").symlink_to(host_dir)
    sandbox = started_sandbox(make_spec(ws, agent_id="owner"))
    try:
        asyncio.run(sandbox.write_file("f", "x"))
        assert_host_untouched(host_dir)
    finally:
        stop_sandbox(sandbox)
    assert_host_untouched(host_dir)
