"""read_file / write_file on the bound workspace: no escapes, even through container-made symlinks."""

from __future__ import annotations

import pytest

from sandboxes.base import PathEscapeError
from tests.docker_support import make_spec, require_docker, started_sandbox, stop_sandbox

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    require_docker()
    base = tmp_path_factory.mktemp("files")
    (base / "outside.txt").write_text("host secret\n")
    sb = started_sandbox(make_spec(base / "ws", agent_id="filer"))
    yield sb
    stop_sandbox(sb)


async def test_round_trip_both_ways(sandbox):
    await sandbox.write_file("notes/a.txt", "from the host\n")
    r = await sandbox.exec("cat notes/a.txt; echo from the container > b.txt", 20)
    assert r.output == "from the host\n"
    assert await sandbox.read_file("b.txt") == "from the container\n"
    assert await sandbox.read_file("/workspace/b.txt") == "from the container\n"


@pytest.mark.parametrize(
    "path",
    ["../outside.txt", "notes/../../outside.txt", "/etc/passwd", "/workspace/../etc/passwd",
     "a\x00b", ""],
)
async def test_plain_escapes_refused(sandbox, path):
    with pytest.raises(PathEscapeError):
        await sandbox.read_file(path)
    with pytest.raises(PathEscapeError):
        await sandbox.write_file(path, "x")


async def test_symlinks_made_inside_the_container_cannot_escape(sandbox):
    r = await sandbox.exec(
        "ln -s /etc etc-link && ln -s / root-link && ln -s .. up-link && "
        "ln -s /workspace/../.. abs-up && ln -s ../outside.txt out-file && "
        "mkdir -p real && echo inside > real/f && ln -s real in-link && echo ok",
        20,
    )
    assert r.output == "ok\n", r.output
    for path in ["etc-link/passwd", "root-link/etc/hostname", "up-link/outside.txt",
                 "abs-up/etc/passwd", "out-file"]:
        with pytest.raises(PathEscapeError):
            await sandbox.read_file(path)
        with pytest.raises(PathEscapeError):
            await sandbox.write_file(path, "pwned")
    with pytest.raises(PathEscapeError):
        await sandbox.write_file("root-link/tmp/pwned", "pwned")
    # a symlink that stays inside is fine: the file tools run in the container, where
    # the kernel resolves it in the container's namespace (no host file is reachable)
    assert await sandbox.read_file("in-link/f") == "inside\n"
    await sandbox.write_file("in-link/g", "ok\n")
    assert (await sandbox.exec("cat real/g", 20)).output == "ok\n"
