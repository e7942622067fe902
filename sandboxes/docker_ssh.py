"""Attached execs over ``DOCKER_HOST=ssh://``: a pipe pair, not a socket.

docker-py reaches an ssh daemon through the system's ``ssh`` client running
``docker system dial-stdio`` on the far side (sandboxes/docker_client.py).  An exec
started with ``socket=True`` then hands back that ssh process's stdin and stdout
(``SSHSocket.proc``) rather than a socket: its descriptor is an unconnected socket,
writing to it fails, and half-closing means closing ssh's stdin.  Each attached exec has
its own ssh process (docker-py opens a new connection for it), so the pipes belong to
that exec alone and are ended with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from typing import Any


def ssh_process(raw: Any) -> subprocess.Popen | None:
    """The ssh client process behind an attached exec's raw stream, if that is what it is."""
    proc = getattr(raw, "proc", None)
    if isinstance(proc, subprocess.Popen) and proc.stdin is not None and proc.stdout is not None:
        return proc
    return None


def send_stdin_pipes(proc: subprocess.Popen, data: bytes, timeout: float) -> bytes:
    """Feed ``data`` to the exec, close its stdin, read its raw output to the end."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(data)
            proc.stdin.flush()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()  # dial-stdio half-closes the exec's stdin
        return proc.stdout.read()
    finally:
        timer.cancel()
        end(proc)


def end(proc: subprocess.Popen) -> None:
    with contextlib.suppress(Exception):
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
    with contextlib.suppress(Exception):
        proc.terminate()
        proc.wait(5)
    with contextlib.suppress(Exception):
        proc.kill()


async def pipe_streams(proc: subprocess.Popen, limit: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio streams over the ssh process's pipes (the session's byte stream).  What
    the HTTP upgrade already read into the pipe's buffer comes first."""
    assert proc.stdin is not None and proc.stdout is not None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    os.set_blocking(proc.stdout.fileno(), False)
    try:
        early = proc.stdout.read1(1 << 20)  # buffered bytes first; None: nothing yet
    except BlockingIOError:
        early = None
    if early:
        reader.feed_data(early)
    # the transports own the pipes now: closing the writer closes ssh's stdin (EOF to the
    # supervisor, which then ends), and end() reaps ssh when the session closes
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), proc.stdout)
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), loop=loop), proc.stdin)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


_patched: list[bool] = []


def tolerate_ended_ssh() -> None:
    """docker-py's ssh-client socket writes to ssh's stdin when it closes, even when ssh
    has already ended (the far side closed after a short exec): BrokenPipeError out of a
    plain `exec_start` whose output was read in full (docker/docker-py#3218, open).
    Closing an ended connection is made a no-op; nothing else changes."""
    if _patched:
        return
    try:
        from docker.transport.sshconn import SSHSocket
    except ImportError:  # no paramiko: docker-py says so itself when it connects
        return
    original = SSHSocket.close

    def close(self) -> None:
        try:
            original(self)
        except OSError:  # ssh has ended: nothing is left to close but the process
            with contextlib.suppress(Exception):
                self.proc.terminate()

    SSHSocket.close = close  # type: ignore[method-assign]
    _patched.append(True)
