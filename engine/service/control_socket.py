"""The control socket: a running engine served to other processes of the same user.

A Unix socket ``<socket dir>/<run id>.sock`` (mode 0600 in a 0700 directory, see
socket_dir.py); each peer's uid is checked with SO_PEERCRED.  It speaks JSON lines:
on connect the server says `hello`; a client sends any registered command
(engine/service/commands.py) and gets `{"type":"ok"}` or `{"type":"error","text":...}`
back (with its `id` echoed), or `subscribe` (optional `from_seq`) to get the run's
events: stored ones from `from_seq`, then live ones, none lost and none twice.

A client never slows the engine: the server reads the bus with one subscription
and hands each client its events through a bounded backlog; a client that falls
``backlog`` lines behind is dropped with a notice (it may subscribe again from the
sequence number it had reached).
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import events as ev
from engine.recording import ControlError
from engine.service.connection import CLOSE_GRACE, ClientConnection
from engine.service.socket_dir import (
    SocketDirError,
    default_socket_dir,
    private_dir,
    socket_path,
)

if TYPE_CHECKING:
    from engine.run import Engine

#: lines waiting for one client before it is dropped
CLIENT_BACKLOG = 20_000
#: the server's own bus queue (it only copies events into the clients' backlogs)
FANOUT_QUEUE = 10_000


class ControlServer:
    """Serves one engine on its control socket while the run lasts."""

    def __init__(self, engine: Engine, directory: Path | None = None,
                 backlog: int = CLIENT_BACKLOG) -> None:
        self.engine = engine
        self.directory = directory
        self.backlog = backlog
        self.path: Path | None = None
        self.clients: set[ClientConnection] = set()
        self.subscribers: set[ClientConnection] = set()
        self.dropped = 0
        self._server: asyncio.AbstractServer | None = None
        self._fanout: asyncio.Task | None = None
        self._sub: Any = None

    async def start(self) -> None:
        """Listen; a socket that cannot be made is a notice, and the run goes on."""
        engine = self.engine
        try:
            directory = private_dir(self.directory or default_socket_dir())
            path = socket_path(directory, engine.run_id)
            sock = _bind(path)
        except (SocketDirError, OSError) as exc:
            text = str(exc) if isinstance(exc, SocketDirError) else (exc.strerror or str(exc))
            await engine.emit(ev.NOTICE, level="warning",
                              text=f"no control socket ({text}): `attach` and `mcp` cannot "
                                   "reach this run")
            return
        self.path = path
        sweep_dead_sockets(directory, keep=path)
        self._sub = engine.bus.subscribe(maxsize=FANOUT_QUEUE)
        self._fanout = asyncio.create_task(self._fan_out(), name="control-fanout")
        self._server = await asyncio.start_unix_server(self._serve, sock=sock)
        engine.store.execute("UPDATE runs SET socket=? WHERE id=?", (str(path), engine.run_id))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = ClientConnection(self, reader, writer)
        self.clients.add(client)
        try:
            await client.serve()
        finally:
            self.clients.discard(client)
            self.subscribers.discard(client)

    async def _fan_out(self) -> None:
        sub = self._sub
        while True:
            event = await sub.get()
            if event is None:
                break
            batch = [event, *sub.get_batch()]
            for client in list(self.subscribers):
                client.live(batch)
        for client in list(self.clients):
            client.end()

    def client_dropped(self, client: ClientConnection) -> None:
        self.dropped += 1
        self.subscribers.discard(client)
        engine = self.engine
        if engine.finished.is_set():
            return

        async def tell() -> None:
            try:
                await engine.emit(ev.NOTICE, level="warning",
                                  text=f"control client {client.label} fell {self.backlog} "
                                       "events behind and was dropped (the run goes on)")
            except ControlError:
                pass
        asyncio.get_running_loop().create_task(tell())

    async def close(self) -> None:
        """Stop listening, let clients take their last events, remove the socket."""
        if self._server is not None:
            self._server.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            if self.engine.store.failure is None:
                self.engine.store.execute("UPDATE runs SET socket=NULL WHERE id=?",
                                          (self.engine.run_id,))
        if self._fanout is not None:
            if self.engine.bus.closed:
                await self._fanout
            else:  # closed before the run ended (a test): stop reading the bus
                self._sub.close()
                await self._fanout
        if self.clients:
            await asyncio.wait([asyncio.ensure_future(c.closed.wait()) for c in self.clients],
                               timeout=CLOSE_GRACE)
            for client in list(self.clients):
                client.abort()


def sweep_dead_sockets(directory: Path, keep: Path) -> None:
    """Remove sockets nobody listens on any more (their run's process was killed)."""
    for other in directory.glob("*.sock"):
        if other == keep:
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.setblocking(False)
            probe.connect(str(other))
        except ConnectionRefusedError:
            try:
                other.unlink()
            except OSError:
                pass
        except OSError:
            pass  # busy or not ours to judge: leave it
        finally:
            probe.close()


def _bind(path: Path) -> socket.socket:
    """A listening socket at ``path``, mode 0600 before anyone can connect.

    Bound and listening under a temporary name first, then renamed into place: a
    sweep by another run's start never sees it bound and not yet listening (which
    would look dead)."""
    try:
        if path.is_socket():
            path.unlink()  # left by a process that died (the run lock makes us its owner)
    except OSError:
        pass
    building = path.with_name(path.name + ".new")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            building.unlink()
        except FileNotFoundError:
            pass
        sock.bind(str(building))
        os.chmod(building, 0o600)
        sock.listen(64)
        os.rename(building, path)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        try:
            building.unlink()
        except OSError:
            pass
        raise
    return sock
