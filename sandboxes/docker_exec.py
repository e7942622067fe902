"""One ``docker exec`` per command: the path commands take when a container has no exec
session (no C compiler to build the supervisor, a TLS daemon connection).

A wrapper script runs the command under ``setsid`` and records its process group
in ``/tmp`` (made writable at container start); a timeout or cancel kills that
group from a second exec.  A reader thread per exec feeds a bounded queue on the
loop, so a command that prints gigabytes neither blocks the loop nor grows memory.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable

from sandboxes import paths
from sandboxes.base import TIMEOUT_EXIT_CODE, OutputCallback, OutputCollector
from sandboxes.docker_client import _in_thread
from sandboxes.docker_ssh import send_stdin_pipes, ssh_process

WORKDIR = paths.CONTAINER_WORKSPACE
#: In-flight output chunks between the reader thread and the loop (each <= 32 KiB).
QUEUE_SLOTS = 32
#: After a kill, how long to wait for the rest of the output before dropping the stream.
KILL_GRACE = 5.0

# The wrapper every command runs under.  $1 is the command, $2 a random token.
# The command gets its own session and process group (setsid without a fork,
# since a background child is not a group leader); its pid, which is the group
# id, goes to a pid file so that a second exec can kill the whole tree.  The
# ".k" file closes the race where the kill arrives before the pid file exists.
# stderr goes into the same pipe as stdout, so the merged output keeps its order.
_WRAPPER = r"""f=/tmp/.agentorch-$2
if command -v setsid >/dev/null 2>&1; then setsid sh -c "$1" </dev/null 2>&1 & else sh -c "$1" </dev/null 2>&1 & fi
p=$!
echo $p >$f.p
[ -e $f.k ] && kill -9 -$p 2>/dev/null
wait $p
r=$?
kill -9 -$p 2>/dev/null
rm -f $f.p $f.k
exit $r"""

_KILLER = r"""f=/tmp/.agentorch-$1
: >$f.k
if read p <$f.p 2>/dev/null; then kill -9 -$p 2>/dev/null || kill -9 $p 2>/dev/null; fi
exit 0"""

_OOM_PROBE = "cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null"





def exit_code_of(api, exec_id: str) -> int:
    """An exec's exit code (blocking).  The stream can end a moment before the daemon
    marks the exec finished, so this polls briefly; -1 if it never says."""
    deadline = time.monotonic() + 5
    delay = 0.001
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        if time.monotonic() > deadline:
            return -1
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def send_stdin(api, exec_id: str, data: bytes, timeout: float = 60) -> bytes:
    """Start an exec with stdin attached, feed it ``data``, close its stdin and return the
    raw (multiplexed) output; blocking, for a worker thread."""
    raw = api.exec_start(exec_id, socket=True)
    ssh = ssh_process(raw)
    if ssh is not None:  # DOCKER_HOST=ssh:// through the ssh client: a pipe pair
        return send_stdin_pipes(ssh, data, timeout)
    if isinstance(raw, ssl.SSLSocket):  # TLS: written through it, with no half-close
        return _send_tls(raw, data, timeout)
    try:
        sock = socket.socket(fileno=os.dup(raw.fileno()))
    finally:
        with contextlib.suppress(Exception):
            raw.close()
    chunks = []
    with sock:
        sock.settimeout(timeout)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _send_tls(sock: ssl.SSLSocket, data: bytes, timeout: float) -> bytes:
    """``data`` through the exec's TLS connection, then its output until the daemon
    closes it.  TLS has no half-close here, so the command must stop reading by itself
    (``head -c LENGTH``, as file_op_sync and the supervisor's install do)."""
    chunks = []
    try:
        sock.settimeout(timeout)
        sock.sendall(data)
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ssl.SSLError, OSError):
        pass  # the connection ended: what came is the output
    finally:
        with contextlib.suppress(Exception):
            sock.close()
    return b"".join(chunks)


#: runs a file tool's script ($0) on exactly $1 bytes of stdin: no end of input needed
_EXACT_STDIN = 'n=$1; shift; head -c "$n" | sh -c "$0" agentorch-file "$@"'


class ContainerStopped(Exception):
    """The container is not running (its main process died)."""


class _Exec:
    """One streaming exec: a reader thread feeding a bounded queue on the loop."""

    DATA, END, ERROR = 0, 1, 2

    def __init__(self, api, container_id: str, argv: list[str], user: str, loop) -> None:
        self.api = api
        self.container_id = container_id
        self.argv = argv
        self.user = user
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.slots = threading.Semaphore(QUEUE_SLOTS)
        self.aborted = threading.Event()
        self.stream = None
        self.exec_id: str | None = None
        self.done = False
        self.thread = threading.Thread(target=self._main, name="agentorch-exec", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # -- reader thread
    def _post(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # loop closed
            self.aborted.set()

    def _main(self) -> None:
        try:
            self.exec_id = self.api.exec_create(
                self.container_id,
                self.argv,
                stdout=True,
                stderr=True,
                stdin=False,
                tty=False,
                user=self.user,
                workdir=WORKDIR,
            )["Id"]
            self.stream = self.api.exec_start(self.exec_id, stream=True)
            if self.aborted.is_set():
                self.stream.close()
            for data in self.stream:
                while not self.slots.acquire(timeout=0.2):
                    if self.aborted.is_set():
                        break
                if self.aborted.is_set():
                    break
                self._post((self.DATA, data))
            with contextlib.suppress(Exception):
                self.stream.close()
            self._post((self.END, self._exit_code()))
        except BaseException as exc:  # noqa: BLE001 - handed to the loop
            self._post((self.ERROR, exc))

    def _exit_code(self) -> int:
        return exit_code_of(self.api, self.exec_id)

    # -- loop side
    async def get(self):
        item = await self.queue.get()
        if item[0] == self.DATA:
            self.slots.release()
        else:
            self.done = True
        return item

    def abort(self) -> None:
        """Stop reading (from any thread): the reader closes the stream and ends."""
        self.aborted.set()
        stream = self.stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        # wake a reader blocked on the slots
        self.slots.release()




async def exec_once(api, container_id: str, user: str, command: str, timeout: float,
                    collector: OutputCollector, on_output: OutputCallback | None,
                    error_of: Callable[[BaseException], BaseException]) -> tuple[int, bool]:
    """Run ``command`` in its own exec; (exit code, timed out).  Output goes to
    ``collector`` and ``on_output``; a docker error is raised as ``error_of(exc)``."""
    loop = asyncio.get_running_loop()
    token = secrets.token_hex(8)
    run = _Exec(api, container_id, ["sh", "-c", _WRAPPER, "agentorch", command, token], user, loop)
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    timed_out = False
    exit_code = -1
    run.start()
    try:
        async with asyncio.timeout(timeout):
            exit_code = await _pump(run, collector, decoder, on_output, error_of)
    except TimeoutError:
        timed_out = True
        await _kill(run, token)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(KILL_GRACE):
                await _pump(run, collector, decoder, None, error_of)
        run.abort()
        exit_code = TIMEOUT_EXIT_CODE
    except asyncio.CancelledError:
        # kill first (the awaiting task is being cancelled: shield the kill)
        killer = asyncio.ensure_future(_kill(run, token, abort_after=KILL_GRACE))
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.shield(killer)
        raise
    finally:
        if not run.done and not timed_out:
            run.abort()  # never leave a reader thread holding a stream
    return exit_code, timed_out


async def _pump(run: _Exec, collector: OutputCollector, decoder, on_output: OutputCallback | None,
                error_of: Callable[[BaseException], BaseException]) -> int:
    while True:
        kind, payload = await run.get()
        if kind == _Exec.DATA:
            collector.add(payload)
            if on_output is not None:
                text = decoder.decode(payload)
                if text:
                    await on_output(text)
        elif kind == _Exec.END:
            if on_output is not None:
                tail = decoder.decode(b"", final=True)
                if tail:
                    await on_output(tail)
            return payload
        else:
            raise error_of(payload)


async def _kill(run: _Exec, token: str, abort_after: float | None = None) -> None:
    """SIGKILL the command's process group from a second exec; retried while the
    container is out of pids (a fork bomb)."""
    api, cid, user = run.api, run.container_id, run.user

    def kill() -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                exec_id = api.exec_create(
                    cid, ["sh", "-c", _KILLER, "agentorch-kill", token],
                    stdout=True, stderr=True, user=user, workdir="/",
                )["Id"]
                api.exec_start(exec_id)
                if api.exec_inspect(exec_id).get("ExitCode") == 0:
                    return
            except Exception:  # noqa: BLE001 - container gone or out of pids: retry
                pass
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)

    await _in_thread(kill)
    if abort_after is not None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(abort_after):
                while not run.done:
                    await run.get()
        run.abort()


def file_op_sync(api, container_id: str, user: str, script: str, args: list[str],
                 stdin: bytes | None) -> tuple[int, bytes, str]:
    """A file tool's script in its own exec (stdin attached when given); blocking."""
    argv = (["sh", "-c", script, "agentorch-file", *args] if stdin is None else
            ["sh", "-c", _EXACT_STDIN, script, str(len(stdin)), *args])
    exec_id = api.exec_create(container_id, argv, stdin=stdin is not None, user=user,
                              workdir=WORKDIR)["Id"]
    if stdin is None:
        out, err = api.exec_start(exec_id, demux=True)
    else:
        send_stdin(api, exec_id, stdin)
        out, err = b"", b""
    return exit_code_of(api, exec_id), out or b"", (err or b"").decode("utf-8", "replace")
