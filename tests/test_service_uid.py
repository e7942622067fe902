"""Attacks on the control socket from another uid: the directory keeps them out, and
SO_PEERCRED refuses them even when the socket is reachable. The socket directory
itself is refused when another uid planted it, and fixed when it is too open."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from engine_support import Watcher, make_team, step

from engine.run import Engine
from engine.service.control_socket import ControlServer
from engine.service.socket_dir import SocketDirError, default_socket_dir, private_dir
from memory.store import Store

NOBODY = 65534
as_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another uid")


@pytest.fixture
def sock_dir():
    path = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def connect_as(uid: int, path: Path) -> tuple[int, int]:
    """Fork a child that becomes ``uid`` and connects to ``path``; (pid, read end) of a
    pipe carrying what it got: `EACCES`, or the server's first line."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: plain syscalls only, then _exit
        try:
            os.close(r)
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
                s.settimeout(20)
                data = s.recv(4096) or b"EOF"
            except PermissionError:
                data = b"EACCES"
            os.write(w, data)
        finally:
            os._exit(0)
    os.close(w)
    return pid, r


async def child_saw(uid: int, path: Path) -> str:
    pid, r = connect_as(uid, path)
    await asyncio.to_thread(os.waitpid, pid, 0)
    with os.fdopen(r, "rb") as fh:
        return fh.read().decode()


async def served(tmp_path: Path, sock_dir: Path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("ask_user", question="?")]}])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    engine.control = ControlServer(engine, sock_dir)
    watcher = Watcher(engine)
    await engine.start()
    await watcher.wait_for("interrupt", "a")
    return engine, store


@as_root
async def test_another_uid_cannot_reach_the_socket_through_its_directory(tmp_path, sock_dir):
    engine, store = await served(tmp_path, sock_dir)
    assert await child_saw(NOBODY, engine.control.path) == "EACCES"
    await engine.stop()
    await store.close()


@as_root
async def test_so_peercred_refuses_another_uid_even_on_an_open_socket(tmp_path, sock_dir):
    engine, store = await served(tmp_path, sock_dir)
    os.chmod(sock_dir, 0o777)  # opened up on purpose: only SO_PEERCRED stands in the way
    os.chmod(engine.control.path, 0o777)
    seen = await child_saw(NOBODY, engine.control.path)
    assert '"type": "error"' in seen and f"serves uid {os.getuid()} only, not uid {NOBODY}" in seen
    assert "hello" not in seen and engine.run_id not in seen
    await engine.stop()
    await store.close()


@as_root
def test_a_directory_planted_by_another_uid_is_refused(sock_dir):
    planted = sock_dir / "planted"
    planted.mkdir(mode=0o777)
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(SocketDirError, match=f"belongs to uid {NOBODY}, not to you"):
        private_dir(planted)


def test_a_symlink_is_refused_and_a_too_open_directory_is_fixed(sock_dir):
    target = sock_dir / "elsewhere"
    target.mkdir()
    (sock_dir / "link").symlink_to(target)
    with pytest.raises(SocketDirError, match="not a plain directory"):
        private_dir(sock_dir / "link")
    loose = sock_dir / "loose"
    loose.mkdir()
    os.chmod(loose, 0o755)
    private_dir(loose)
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o700
    fresh = private_dir(sock_dir / "fresh")
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700


def test_the_default_directory_is_short_and_per_user(monkeypatch, sock_dir):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(sock_dir))
    assert default_socket_dir() == sock_dir / "agentorch"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/dir")
    assert default_socket_dir() == Path(f"/tmp/agentorch-{os.getuid()}")


@as_root
async def test_a_refused_directory_is_a_notice_and_the_run_goes_on(tmp_path, sock_dir):
    planted = sock_dir / "planted"
    planted.mkdir(mode=0o777)
    os.chown(planted, NOBODY, NOBODY)
    team = make_team(tmp_path, [{"id": "a", "script": [step("run_command", command="echo hi")]}])
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    engine.control = ControlServer(engine, planted)
    watcher = Watcher(engine)
    await engine.start()
    assert await engine.wait() == "finished"
    notice = watcher.find("notice")[0].data["text"]
    assert notice.startswith("no control socket (the socket directory") and "attach" in notice
    assert engine.control.path is None and list(planted.iterdir()) == []
    await store.close()
