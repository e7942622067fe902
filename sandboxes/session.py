"""The engine's end of a sandbox supervisor, speaking its frame protocol.

The supervisor (``sandboxes/supervisor/supervisor.c``) runs once per sandbox:
in a container it is started over ``docker exec`` with stdin attached
(:class:`DockerExecSession`: after the HTTP upgrade the connection is a plain
byte stream carrying Docker's stream multiplexing, an 8-byte header per chunk,
around the supervisor's own frames); on the local backend it is a child process
on pipes and a child subreaper (:class:`LocalExecSession`).  Either way the
stream is handed to asyncio, so a command costs one write and a few reads on the
event loop: no thread, no Docker API call.

Several commands of one agent share the session at once, each under its own id.
If the session dies (the supervisor was killed from inside, the container ran out
of memory), every command that was running is told so; the sandbox opens a new
session for the next command.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import itertools
import os
import socket
import struct
import subprocess
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sandboxes.base import TIMEOUT_EXIT_CODE, SandboxError
from sandboxes.docker_ssh import end as end_ssh
from sandboxes.docker_ssh import pipe_streams, ssh_process
from sandboxes.supervisor import CONTAINER_PATH, SupervisorUnavailable, supervisor_path

_HEADER = struct.Struct(">cII")  # type, id, length
_MUX = struct.Struct(">BxxxI")  # Docker: stream, size
#: A command's output waits here for its consumer; beyond this the reader stops reading.
HIGH_WATER = 64
#: Extra time past a command's own timeout before we stop trusting the supervisor
#: (it kills at the deadline itself and answers within milliseconds; this is for a
#: loaded machine), and how long it then gets to answer a kill.
GRACE = 5.0
KILL_WAIT = 2.0
IN_CHUNK = 256 * 1024

F_TIMED_OUT, F_KILLED, F_NOSTART = 1, 2, 4

#: Awaited with ("O" | "e", bytes) for each chunk of output.
OnData = Callable[[str, bytes], Awaitable[None]]


class StreamedOutput:
    """A command's output as the sandbox protocol wants it: capped in ``collector`` and
    passed on, decoded as UTF-8 across chunk boundaries, to ``on_output``."""

    def __init__(self, limit: int, on_output) -> None:
        from sandboxes.base import OutputCollector

        self.collector = OutputCollector(limit)
        self.on_output = on_output
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    async def on_data(self, _kind: str, data: bytes) -> None:
        self.collector.add(data)
        if self.on_output is not None:
            text = self._decoder.decode(data)
            if text:
                await self.on_output(text)

    async def end(self, note: str = "") -> None:
        """Flush a split character, then add ``note`` (a line of ours) to both."""
        tail = self._decoder.decode(b"", final=True)
        if tail and self.on_output is not None:
            await self.on_output(tail)
        if note:
            self.collector.add(note.encode())
            if self.on_output is not None:
                await self.on_output(note)


class SessionDied(Exception):
    """The supervisor stopped answering; what was running was interrupted."""


@dataclass(slots=True)
class Exit:
    code: int
    flags: int

    @property
    def timed_out(self) -> bool:
        return bool(self.flags & F_TIMED_OUT)

    @property
    def killed(self) -> bool:
        return bool(self.flags & F_KILLED)


@dataclass(slots=True)
class _Running:
    items: deque = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    space: asyncio.Event = field(default_factory=asyncio.Event)


def encode_run(argv: list[str], env: dict[str, str], cwd: str, timeout: float | None,
               merge: bool, has_stdin: bool) -> bytes:
    strings = [("m" if merge else "") + ("i" if has_stdin else ""),
               str(int(timeout * 1000) if timeout else 0), cwd, str(len(argv)), *argv,
               *(f"{k}={v}" for k, v in env.items())]
    data = [s.encode("utf-8", "surrogateescape") for s in strings]
    if any(b"\x00" in part for part in data):
        raise SandboxError("a command, its arguments and environment cannot contain NUL bytes")
    return b"".join(part + b"\x00" for part in data)


class ExecSession:
    """The engine's end of one supervisor: run commands, kill them, notice its death."""

    #: Docker wraps the supervisor's stdout and stderr in its stream multiplexing
    demux = False

    def __init__(self, exempt: list[int] | None = None) -> None:
        self.exempt = exempt
        self.pid: int | None = None
        self.dead: BaseException | None = None
        self.stderr_tail = b""
        self._ids = itertools.count(1)
        self._running: dict[int, _Running] = {}
        self._pings: dict[int, asyncio.Future] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None

    # -- opening
    async def open(self) -> None:
        reader, self._writer = await self._connect()
        self._reader_task = asyncio.ensure_future(self._read_loop(reader))
        pong = await self.ping(timeout=10)
        fields = dict(part.split("=", 1) for part in pong.split() if "=" in part)
        self.pid = int(fields.get("pid", "0")) or None
        if self.exempt is None:
            self.exempt = [int(p) for p in fields.get("exempt", "").split(",") if p]

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise NotImplementedError

    async def _chunks(self, reader: asyncio.StreamReader):
        """The supervisor's stdout, chunk by chunk (stderr goes to ``stderr_tail``)."""
        if not self.demux:
            while chunk := await reader.read(65536):
                yield chunk
            raise asyncio.IncompleteReadError(b"", None)
        while True:
            stream, size = _MUX.unpack(await reader.readexactly(_MUX.size))
            chunk = await reader.readexactly(size)
            if stream == 1:
                yield chunk
            else:
                self.stderr_tail = (self.stderr_tail + chunk)[-2000:]

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        task = self._reader_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._die(SessionDied("the session was closed"))

    @property
    def alive(self) -> bool:
        return self.dead is None and self._writer is not None

    # -- requests
    def _send(self, kind: bytes, ident: int, payload: bytes = b"") -> None:
        if not self.alive:
            raise SessionDied(str(self.dead or "the session is closed"))
        self._writer.write(_HEADER.pack(kind, ident, len(payload)) + payload)

    async def ping(self, timeout: float = 5.0) -> str:
        ident = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pings[ident] = fut
        try:
            self._send(b"P", ident)
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise SessionDied(f"the sandbox supervisor did not answer within {timeout:g}s") from None
        finally:
            self._pings.pop(ident, None)

    def hold_sweeps(self, hold: bool) -> None:
        """While held, the supervisor kills nothing when its commands end (a person's
        shell runs in the sandbox as the same user); released, it sweeps again."""
        with contextlib.suppress(SessionDied, OSError):
            self._send(b"S", 0, b"0" if hold else b"1")

    def kill(self, ident: int) -> None:
        with contextlib.suppress(SessionDied, OSError):
            self._send(b"K", ident)

    async def run(self, argv: list[str], on_data: OnData, *, env: dict[str, str], cwd: str,
                  timeout: float | None, stdin: bytes | None = None, merge: bool = True) -> Exit:
        """Run ``argv``; output goes to ``on_data`` as it arrives.  Cancelling kills it."""
        ident = next(self._ids)
        running = self._running[ident] = _Running()
        try:
            self._send(b"R", ident, encode_run(argv, env, cwd, timeout, merge, stdin is not None))
            if stdin is not None:
                for start in range(0, len(stdin), IN_CHUNK):
                    self._send(b"I", ident, stdin[start:start + IN_CHUNK])
                    await self._writer.drain()
                self._send(b"E", ident)
            limit = None if not timeout else timeout + GRACE
            try:
                async with asyncio.timeout(limit):
                    return await self._collect(ident, running, on_data)
            except TimeoutError:
                # the supervisor should have killed it at its deadline: ask again, once
                self.kill(ident)
                try:
                    async with asyncio.timeout(KILL_WAIT):
                        return await self._collect(ident, running, None)
                except TimeoutError:
                    # it no longer answers: this session is done, the sandbox opens another
                    await self.close()
                    raise SessionDied("the sandbox supervisor stopped answering") from None
        except asyncio.CancelledError:
            self.kill(ident)
            with contextlib.suppress(BaseException):
                async with asyncio.timeout(GRACE):
                    await asyncio.shield(self._collect(ident, running, None))
            raise
        except SessionDied:
            raise
        except BaseException:
            self.kill(ident)  # e.g. on_data failed: the command must not run on unwatched
            raise
        finally:
            self._running.pop(ident, None)
            running.space.set()  # never leave the reader waiting on a consumer that left

    async def _collect(self, ident: int, running: _Running, on_data: OnData | None) -> Exit:
        items = running.items
        while True:
            while not items:
                if self.dead is not None:
                    raise SessionDied(str(self.dead))
                running.ready.clear()
                await running.ready.wait()
            kind, payload = items.popleft()
            if len(items) < HIGH_WATER // 4:
                running.space.set()
            if kind == "X":
                return payload
            if on_data is not None:
                await on_data(kind, payload)

    # -- the reader
    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        pending = bytearray()
        try:
            async for chunk in self._chunks(reader):
                pending += chunk
                while len(pending) >= _HEADER.size:
                    kind, ident, length = _HEADER.unpack_from(pending)
                    if len(pending) < _HEADER.size + length:
                        break
                    payload = bytes(pending[_HEADER.size:_HEADER.size + length])
                    del pending[:_HEADER.size + length]
                    await self._dispatch(kind, ident, payload)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            why = self.stderr_tail.decode("utf-8", "replace").strip().splitlines()
            self._die(SessionDied(why[-1] if why else "its supervisor stopped: killed, or out of memory"))
        except asyncio.CancelledError:
            self._die(SessionDied("the session was closed"))
            raise

    async def _dispatch(self, kind: bytes, ident: int, payload: bytes) -> None:
        if kind == b"P":
            fut = self._pings.get(ident)
            if fut is not None and not fut.done():
                fut.set_result(payload.decode("ascii", "replace"))
            return
        running = self._running.get(ident)
        if running is None:
            return  # a command we stopped waiting for
        if kind == b"X" and len(payload) == 5:
            code, flags = struct.unpack(">iB", payload)
            running.items.append(("X", Exit(code, flags)))
        elif kind in (b"O", b"e"):
            running.items.append((kind.decode(), payload))
        else:
            return
        running.ready.set()
        if len(running.items) >= HIGH_WATER:
            running.space.clear()
            await running.space.wait()

    def _die(self, exc: BaseException) -> None:
        if self.dead is None:
            self.dead = exc
        for running in self._running.values():
            running.ready.set()
            running.space.set()
        for fut in self._pings.values():
            if not fut.done():
                fut.set_exception(SessionDied(str(exc)))


async def run_collected(session: ExecSession, argv: list[str], stdin: bytes | None = None,
                        timeout: float = 120) -> tuple[int, bytes] | None:
    """Run ``argv`` (no shell, an empty environment, cwd /) and collect its stdout:
    (exit code, bytes), or None when the session died meanwhile."""
    out = bytearray()

    async def on_data(kind: str, data: bytes) -> None:
        if kind == "O":
            out.extend(data)

    try:
        done = await session.run(argv, on_data, env={}, cwd="/", timeout=timeout, stdin=stdin, merge=False)
    except SessionDied:
        return None
    return (TIMEOUT_EXIT_CODE if done.timed_out else done.code), bytes(out)


class DockerExecSession(ExecSession):
    """The supervisor in a container, over one ``docker exec`` with stdin attached."""

    demux = True

    def __init__(self, api, container_id: str, user: str, exempt: list[int] | None) -> None:
        super().__init__(exempt)
        self.api = api
        self.container_id = container_id
        self.user = user
        self._ssh: subprocess.Popen | None = None  # DOCKER_HOST=ssh://: the exec's own ssh

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        argv = [CONTAINER_PATH, *(str(p) for p in self.exempt)] if self.exempt else [CONTAINER_PATH, "auto"]
        conn = await asyncio.to_thread(self._attach, argv)
        if isinstance(conn, subprocess.Popen):
            self._ssh = conn
            return await pipe_streams(conn, 1 << 20)
        return await asyncio.open_connection(sock=conn, limit=1 << 20)

    async def close(self) -> None:
        await super().close()
        ssh, self._ssh = self._ssh, None
        if ssh is not None:
            await asyncio.to_thread(end_ssh, ssh)

    def _attach(self, argv: list[str]) -> socket.socket | subprocess.Popen:
        exec_id = self.api.exec_create(
            self.container_id, argv, stdin=True, stdout=True, stderr=True, tty=False,
            user=self.user, workdir="/",
        )["Id"]
        raw = self.api.exec_start(exec_id, socket=True)
        ssh = ssh_process(raw)
        if ssh is not None:  # ssh:// through the ssh client: its pipes are the stream
            return ssh
        # a plain byte stream only: Unix sockets and plain TCP come as SocketIO; TLS (an
        # SSLSocket) and ssh (a paramiko channel, whose fileno is only a wake-up pipe) do not
        plain = isinstance(raw, socket.SocketIO) or (
            isinstance(raw, socket.socket) and type(raw).__module__ == "socket")
        if not plain:
            with contextlib.suppress(Exception):
                raw.close()
            raise SupervisorUnavailable("the Docker connection is not a plain socket (TLS, or ssh through paramiko)")
        try:
            fd = os.dup(raw.fileno())
        finally:
            # the dup keeps the connection; the HTTP response object lets go of its copy
            with contextlib.suppress(Exception):
                raw.close()
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        return sock


class LocalExecSession(ExecSession):
    """The supervisor as a child process of the engine (local backend), a child
    subreaper: what a command detaches is reparented to it and killed when idle."""

    def __init__(self) -> None:
        super().__init__([])
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        path = await asyncio.to_thread(supervisor_path)
        self._proc = await asyncio.create_subprocess_exec(
            str(path), "--subreaper", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={})
        self._stderr_task = asyncio.ensure_future(self._read_stderr(self._proc.stderr))
        return self._proc.stdout, self._proc.stdin

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            self.stderr_tail = (self.stderr_tail + chunk)[-2000:]

    async def close(self) -> None:
        await super().close()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            # its stdin closed: it kills its commands and what they left, then exits
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
