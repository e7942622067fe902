"""One streaming exec in a container: the wrapper scripts and the reader thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time

from sandboxes import paths

WORKDIR = paths.CONTAINER_WORKSPACE
#: In-flight output chunks between the reader thread and the loop (each <= 32 KiB).
QUEUE_SLOTS = 32

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


class _ContainerStopped(Exception):
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


