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
import re
import signal
import subprocess
import tempfile
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
#: ssh's own messages (host keys, a failed login), kept out of the terminal the TUI draws on
_stderr: list[Any] = []


def ssh_said() -> str:
    """The last line ssh wrote on its stderr in this process ('' when none)."""
    if not _stderr:
        return ""
    try:
        _stderr[0].seek(0)
        lines = [line.strip() for line in _stderr[0].read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    return next((line for line in reversed(lines) if line), "")[:200]


def patch_ssh_client(docker_host: str) -> None:
    """Two changes to docker-py's ssh-client socket (``use_ssh_client``), made once:

    - ssh's stderr goes to a private temporary file instead of our terminal (a host-key
      warning would land in the middle of the TUI's screen), and :func:`ssh_said` gives its
      last line for the error message; ``-p`` is passed only when DOCKER_HOST names a port
      (docker-py's default ``-p 22`` overrides a `Port` in ~/.ssh/config);
    - closing a connection whose ssh has already ended (the far side closed after a short
      exec) is a no-op: docker-py writes to its stdin regardless, a BrokenPipeError out of
      a plain ``exec_start`` whose output was read in full (docker/docker-py#3218, open).
    """
    if _patched:
        return
    try:
        from docker.transport.sshconn import SSHSocket
    except ImportError:  # no paramiko: docker-py says so itself when it connects
        return
    original_close = SSHSocket.close
    named_port = bool(re.match(r"^ssh://[^/]*:\d+(/|$)", docker_host.strip(), re.I))

    def connect(self, **_kwargs) -> None:
        args = ["ssh", *(["-l", self.user] if self.user else []),
                *(["-p", self.port] if self.port and named_port else []),
                "--", self.host, "docker system dial-stdio"]
        env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "SSL_CERT_FILE")}
        if not _stderr:
            _stderr.append(tempfile.TemporaryFile(mode="a+b", prefix="agentorch-ssh-"))  # noqa: SIM115 - kept open for the process
        self.proc = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=_stderr[0], preexec_fn=_ignore_sigint)  # noqa: PLW1509

    def close(self) -> None:
        try:
            original_close(self)
        except OSError:  # ssh has ended: nothing is left to close but the process
            with contextlib.suppress(Exception):
                self.proc.terminate()

    SSHSocket.connect = connect  # type: ignore[method-assign]
    SSHSocket.close = close  # type: ignore[method-assign]
    _patched.append(True)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as docker-py: Ctrl+C is ours, not ssh's
