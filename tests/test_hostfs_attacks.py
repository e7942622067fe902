"""Attacks on host-side file access: a racer swaps a folder for a symlink to a host folder.

A separate process loops `rename(d, d.real); symlink(host, d); unlink(d); rename back`
while the engine's file tools work on `d/...`.  A root-owned 0600 host file must keep
its content and owner, and nothing may be created outside the workspace.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from memory.files import append_memory, read_memory, read_rules
from sandboxes import PathEscapeError, SandboxSpec, hostfs, paths
from sandboxes.local import LocalSandbox

SECRET = "TOP SECRET host file\n"
ATTEMPTS = 1000
#: the race is counted as exercised once this many attempts met the symlink
MIN_HITS = 20

RACER = textwrap.dedent("""
    import os, shutil, sys
    d, real, host = sys.argv[1:4]
    while True:
        for step in (lambda: os.rename(d, real), lambda: os.symlink(host, d),
                     lambda: os.unlink(d), lambda: os.rename(real, d)):
            try:
                step()
            except IsADirectoryError:  # the engine made the folder again meanwhile
                pass
            except OSError:
                if os.path.isdir(real) and os.path.isdir(d) and not os.path.islink(d):
                    shutil.rmtree(d, ignore_errors=True)
""")


@pytest.fixture
def host_dir(tmp_path: Path) -> Path:
    host = tmp_path / "host"
    host.mkdir()
    for name in ("secret", "a.md"):
        (host / name).write_text(SECRET)
        os.chmod(host / name, 0o600)
    return host


def assert_host_untouched(host: Path) -> None:
    assert sorted(p.name for p in host.iterdir()) == ["a.md", "secret"]
    for name in ("secret", "a.md"):
        st = os.stat(host / name)
        assert (host / name).read_text() == SECRET
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (os.geteuid(), os.getegid(), 0o600)
    assert os.stat(host).st_uid == os.geteuid()


@pytest.fixture
def racer(host_dir: Path) -> Iterator[Callable[[Path], Callable[[], None]]]:
    """Start a racer process on a folder; the returned function stops it and restores the folder."""
    procs: list[subprocess.Popen] = []

    def start(folder: Path) -> Callable[[], None]:
        real = folder.with_name(folder.name + ".real")
        proc = subprocess.Popen([sys.executable, "-c", RACER, str(folder), str(real),
                                 str(host_dir)])
        procs.append(proc)

        def stop() -> None:
            proc.kill()
            proc.wait()
            if folder.is_symlink():
                folder.unlink()
            if real.is_dir():
                if folder.is_dir():
                    shutil.rmtree(folder)
                real.rename(folder)

        return stop

    yield start
    for p in procs:
        p.kill()
        p.wait()


def attack(attempt: Callable[[int], None]) -> tuple[int, int]:
    """Run ``attempt`` at least ATTEMPTS times and until the race was hit MIN_HITS times."""
    hits = done = 0
    while done < ATTEMPTS or (hits < MIN_HITS and done < 200 * ATTEMPTS):
        try:
            attempt(done)
        except (PathEscapeError, FileNotFoundError):
            hits += 1
        done += 1
    assert hits >= MIN_HITS, f"the racer never got in the way ({done} attempts)"
    return done, hits


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch) -> str:
    """Both ways hostfs opens beneath a folder: openat2, and the O_NOFOLLOW walk without it."""
    if request.param == "walk":
        monkeypatch.setattr(hostfs, "_openat2_works", False)
    return request.param


def local_sandbox(ws: Path) -> LocalSandbox:
    return LocalSandbox(SandboxSpec(backend="local", workspace=ws, run_id="r", agent_id="a"))


def workspace_with_folder(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    (ws / "d" / "secret").write_text("the agent's own file\n")
    return ws


async def test_racer_never_gets_local_read_file_to_a_host_file(tmp_path, host_dir, racer, resolver):
    ws = workspace_with_folder(tmp_path)
    box = local_sandbox(ws)
    stop = racer(ws / "d")
    leaked = []

    def read(_: int) -> None:
        text = paths.read_text(ws, "d/secret")
        if "TOP SECRET" in text:
            leaked.append(text)

    await asyncio.to_thread(attack, read)
    stop()
    assert leaked == []
    assert await box.read_file("d/secret") == "the agent's own file\n"
    assert_host_untouched(host_dir)


async def test_racer_never_gets_local_write_file_to_a_host_file(tmp_path, host_dir, racer, resolver):
    ws = workspace_with_folder(tmp_path)
    stop = racer(ws / "d")

    def write(i: int) -> None:
        paths.write_text(ws, "d/secret" if i % 2 else f"d/new{i % 7}", "pwned")

    await asyncio.to_thread(attack, write)
    stop()
    await local_sandbox(ws).write_file("d/secret", "mine")
    assert_host_untouched(host_dir)


async def test_racer_never_gets_the_ownership_hand_over_to_a_host_file(tmp_path, host_dir, racer):
    """What the engine creates for a container user is given by fchown on the descriptor."""
    if os.geteuid() != 0:
        pytest.skip("the hand-over only happens as root")
    ws = workspace_with_folder(tmp_path)
    stop = racer(ws / "d")

    def write(i: int) -> None:
        paths.write_text(ws, "d/secret" if i % 2 else f"d/sub{i % 5}/new", "pwned",
                         owner=(1000, 1000))

    await asyncio.to_thread(attack, write)
    stop()
    assert_host_untouched(host_dir)
    made = [p for p in (ws / "d").rglob("*")] if (ws / "d").is_dir() else []
    assert made and all(os.lstat(p).st_uid in (1000, 0) for p in made)


async def test_racer_never_gets_update_memory_to_a_host_file(tmp_path, host_dir, racer, resolver):
    mem = tmp_path / "mem"
    mem.mkdir()
    stop = racer(mem)
    leaked = []

    def update(i: int) -> None:
        if i % 10 == 0 and "TOP SECRET" in read_memory(mem / "a.md"):
            leaked.append(i)
        append_memory(mem / "a.md", f"note {i}", "a")

    await asyncio.to_thread(attack, update)
    stop()
    assert leaked == []
    assert_host_untouched(host_dir)
    assert "note" in read_memory(mem / "a.md")


def test_a_symlink_at_the_memory_file_or_its_folder_is_refused(tmp_path, host_dir):
    (tmp_path / "mem").mkdir()
    os.symlink(host_dir / "a.md", tmp_path / "mem" / "a.md")
    os.symlink(host_dir, tmp_path / "mem2")
    for path in (tmp_path / "mem" / "a.md", tmp_path / "mem2" / "a.md"):
        with pytest.raises(PathEscapeError):
            append_memory(path, "pwned", "a")
        with pytest.raises(PathEscapeError):
            read_memory(path)
        with pytest.raises(PathEscapeError):
            read_rules(path)
    assert_host_untouched(host_dir)


def special_files(ws: Path) -> list[str]:
    os.mkfifo(ws / "fifo")
    names = ["fifo"]
    try:
        os.mknod(ws / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
        names.append("zero")
    except PermissionError:
        pass  # no CAP_MKNOD here: the FIFO still covers "never blocks"
    return names


async def test_fifo_and_device_are_refused_at_once(tmp_path, resolver):
    ws = tmp_path / "ws"
    ws.mkdir()
    box = local_sandbox(ws)
    for name in special_files(ws):
        for call in (box.read_file(name), box.write_file(name, "x")):
            # a hang guard only: the refusal comes from fstat, without waiting
            with pytest.raises(PathEscapeError, match="not a regular file"):
                await asyncio.wait_for(call, 30)
    assert stat.S_ISFIFO(os.lstat(ws / "fifo").st_mode)


def test_memory_and_rules_files_that_are_fifos_are_refused(tmp_path):
    os.mkfifo(tmp_path / "mem.md")
    with pytest.raises(PathEscapeError, match="not a regular file"):
        read_memory(tmp_path / "mem.md")
    with pytest.raises(PathEscapeError, match="not a regular file"):
        append_memory(tmp_path / "mem.md", "x", "a")
    with pytest.raises(PathEscapeError, match="not a regular file"):
        read_rules(tmp_path / "mem.md")


def test_open_beneath_refuses_escapes_and_hard_links(tmp_path, host_dir, resolver):
    ws = tmp_path / "ws"
    ws.mkdir()
    os.symlink(host_dir, ws / "out")
    os.symlink("inside.txt", ws / "in")
    (ws / "inside.txt").write_text("x")
    os.link(host_dir / "secret", ws / "hard")
    for rel in ("out/secret", "in", "../host/secret", "/etc/passwd", "a\x00b"):
        with pytest.raises(PathEscapeError):
            hostfs.open_beneath(ws, rel, os.O_RDONLY)
    with pytest.raises(PathEscapeError, match="hard links"):
        hostfs.write_bytes(ws, "hard", b"pwned")
    os.unlink(ws / "hard")
    assert_host_untouched(host_dir)
