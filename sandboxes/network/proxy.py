"""The run's egress proxy: one asyncio server, one Unix socket ("door") per agent.

A container has no network.  Its only way out is its agent's door, a Unix socket
bind-mounted into it and reached through the relay (sandboxes/relay), so the proxy
knows whose request it serves from the socket it came in on, never from the request.

It speaks HTTP CONNECT (tunnels, matched on the CONNECT host and, for TLS, on the
ClientHello's server name, which must agree) and plain HTTP in proxy form (matched on
the URL's host, which the Host header must agree with).  A host is looked up once; the
address is checked (see policy.forbidden_address) and the connection goes to that very
address.  Unlisted hosts are held while ``ask`` decides; deny wins.  Every connection
is reported (agent, host, port, allowed, bytes up and down).  Secrets are added to
plain-HTTP requests for their host on the way out, over TLS to the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from sandboxes.network.http import (
    MAX_HEAD,
    BadRequest,
    RequestHead,
    forward_head,
    host_and_port,
    parse_head,
    plain_target,
    response,
)
from sandboxes.network.policy import (
    ALLOW,
    DENY,
    HostPattern,
    Policy,
    forbidden_address,
    host_port,
    is_address,
    normal_host,
)
from sandboxes.network.sni import NotTLS, read_client_hello

HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 20.0
CHUNK = 64 * 1024
#: connections at once: per run, and per agent
PER_RUN = 256
PER_AGENT = 64


@dataclass(frozen=True)
class Request:
    """A request to a host the agent's rules do not list (the person decides)."""

    agent: str
    host: str
    port: int
    method: str
    program: str | None = None  # the client's User-Agent: a hint, not proof


@dataclass
class ConnectionRecord:
    agent: str
    host: str
    port: int
    method: str
    allowed: bool
    reason: str = ""
    address: str | None = None
    up: int = 0
    down: int = 0
    program: str | None = None


@dataclass(frozen=True)
class Secret:
    """A header the proxy sets on plain-HTTP requests to ``host`` (sent on over TLS)."""

    host: HostPattern
    header: str
    value: str
    upstream: str | None = None  # scheme://host[:port]; default https://HOST
    meter: bool = False  # the responses carry model API usage (Door.meter reads them)


class ResponseTap(Protocol):
    """Reads a metered response as it streams by (engine/network_meter.py)."""

    async def start(self) -> str | None: ...  # None: go on; else why the request is refused
    def feed(self, data: bytes) -> None: ...
    async def finish(self) -> None: ...


Ask = Callable[[Request], Awaitable[bool]]
Report = Callable[[ConnectionRecord], Awaitable[None]]


@dataclass
class Door:
    agent: str
    path: str
    policy: Policy
    ask_unlisted: bool = True
    secrets: list[Secret] = field(default_factory=list)
    uids: frozenset[int] | None = None  # peers allowed to connect (SO_PEERCRED), None: any
    #: (pid, uid) of a peer -> whether it is this agent's relay (e.g. in its container)
    peer_check: Callable[[int, int], bool] | None = None
    meter: Callable[[], ResponseTap] | None = None  # for secrets with meter=True
    server: asyncio.AbstractServer | None = None
    #: this agent's connections at once (so one agent cannot use up the run's)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PER_AGENT))


class Refused(Exception):
    """The request is not let through; status and the sentence the client reads."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class EgressProxy:
    def __init__(self, ask: Ask, report: Report, *, max_connections: int = PER_RUN) -> None:
        self.ask = ask
        self.report = report
        self.doors: dict[str, Door] = {}
        self._slots = asyncio.Semaphore(max_connections)
        self._tasks: set[asyncio.Task] = set()

    async def open_door(self, door: Door) -> None:
        """Listen on ``door.path`` (0666 inside an engine-owned directory) for its agent."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(door.path)
        door.server = await asyncio.start_unix_server(
            lambda r, w: self._accept(door, r, w), path=door.path, limit=MAX_HEAD)
        os.chmod(door.path, 0o666)
        self.doors[door.agent] = door

    async def close(self) -> None:
        for door in self.doors.values():
            if door.server is not None:
                door.server.close()
            with contextlib.suppress(OSError):
                os.unlink(door.path)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.doors.clear()

    async def _accept(self, door: Door, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if not _peer_allowed(writer, door.uids, door.peer_check):
                return
            if self._slots.locked() or door.slots.locked():
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
                writer.write(response(503, "agentorch proxy busy",
                                      "agentorch: too many connections at once; try again"))
                await writer.drain()
                return
            async with self._slots, door.slots:
                await self._serve(door, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _serve(self, door: Door, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            head = parse_head(data)
            if head.method == "CONNECT":
                host, port = host_and_port(head.target, 443)
            else:
                target = plain_target(head)
                host, port = target.host, target.port
        except BadRequest as exc:
            writer.write(response(400, "Bad request to the agentorch proxy", f"agentorch: {exc}"))
            return
        record = ConnectionRecord(door.agent, host, port, head.method, False,
                                  program=_program(head))
        try:
            if head.method == "CONNECT":
                address = await self._admit(door, record)
                await self._tunnel(reader, writer, record, address)
            else:
                await self._plain(door, reader, writer, head, record)
        except Refused as exc:
            record.allowed, record.reason = False, str(exc)
            with contextlib.suppress(Exception):
                writer.write(response(exc.status, f"agentorch: {exc}", f"agentorch: {exc}"))
                await writer.drain()
        finally:
            await self.report(record)

    async def _admit(self, door: Door, record: ConnectionRecord) -> str:
        """Decide and resolve: the one address this connection may go to."""
        where = host_port(record.host, record.port)
        verdict = door.policy.decide(record.host, record.port)
        person_named_address = False  # the person allowed this very address (not a name)
        if verdict == DENY:
            raise Refused(403, f"{where} is denied for agent {door.agent} by its network rules")
        if verdict != ALLOW:
            if not door.ask_unlisted:
                raise Refused(403, f"{where} is not on the network allow list of agent {door.agent}")
            request = Request(door.agent, record.host, record.port, record.method, record.program)
            if not await self.ask(request):
                raise Refused(403, f"{where} was not allowed for agent {door.agent}")
            if door.policy.decide(record.host, record.port) == DENY:
                raise Refused(403, f"{where} is denied for agent {door.agent} by its network rules")
            person_named_address = is_address(record.host)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                record.host, record.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise Refused(502, f"{record.host} does not resolve") from None
        if not infos:
            raise Refused(502, f"{record.host} does not resolve")
        address = str(infos[0][4][0])
        record.address = address
        listed = person_named_address or door.policy.address_listed(address, record.port)
        if forbidden_address(address) and not listed:
            raise Refused(403, f"{record.host} resolves to {address}, a private or local address; "
                               "only an address listed itself in allow is reached")
        return address

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      record: ConnectionRecord, address: str) -> None:
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        try:
            first, name = await asyncio.wait_for(read_client_hello(reader), HEAD_TIMEOUT)
        except NotTLS as exc:
            first, name = exc.args[0], None
        except (ValueError, IndexError):
            record.reason = "malformed TLS ClientHello"
            return
        if name is not None and normal_host(name) != record.host:
            record.reason = f"TLS server name {name!r} differs from the CONNECT host {record.host}"
            return
        upstream = await self._connect(address, record.port, record)
        up_reader, up_writer = upstream
        record.allowed = True
        up_writer.write(first)
        record.up += len(first)
        await _pipe_both(reader, writer, up_reader, up_writer, record)

    async def _plain(self, door: Door, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     head: RequestHead, record: ConnectionRecord) -> None:
        target = plain_target(head)
        secrets = [s for s in door.secrets if s.host.matches(target.host, target.port)]
        tls: ssl.SSLContext | None = None
        host_header = host_port(target.host, target.port) if target.port != 80 else target.host
        if secrets:  # the sandbox spoke plain HTTP; the secret travels on to the real server
            up = urlsplit(secrets[0].upstream or f"https://{host_port(target.host, 443)}")
            record.host, record.port = host_and_port(up.netloc, 443 if up.scheme == "https" else 80)
            tls = ssl.create_default_context() if up.scheme == "https" else None
            host_header = up.netloc
        address = await self._admit(door, record)
        tap = door.meter() if door.meter and any(s.meter for s in secrets) else None
        replace = {s.header: s.value for s in secrets}
        if tap is not None:
            refusal = await tap.start()
            if refusal:
                raise Refused(429, refusal)
            replace["Accept-Encoding"] = "identity"  # usage is read from the plain body
        up_reader, up_writer = await self._connect(address, record.port, record, tls, record.host)
        record.allowed = True
        out = forward_head(head, target, host_header, replace)
        up_writer.write(out)
        record.up += len(out)
        try:
            await _pipe_both(reader, writer, up_reader, up_writer, record, tap)
        finally:
            if tap is not None:
                await tap.finish()

    async def _connect(self, address: str, port: int, record: ConnectionRecord,
                       tls: ssl.SSLContext | None = None, name: str | None = None
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(
                address, port, ssl=tls, server_hostname=name if tls else None, limit=CHUNK),
                CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise Refused(502, f"could not connect to {host_port(record.host, port)} "
                               f"({type(exc).__name__})") from None


async def _pipe_both(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter,
                     u_reader: asyncio.StreamReader, u_writer: asyncio.StreamWriter,
                     record: ConnectionRecord, tap: ResponseTap | None = None) -> None:
    def count_up(data: bytes) -> None:
        record.up += len(data)

    def count_down(data: bytes) -> None:
        nonlocal tap
        record.down += len(data)
        if tap is not None:
            try:
                tap.feed(data)
            except Exception:  # noqa: BLE001 - a reader's bug never breaks the connection
                tap = None

    try:
        await asyncio.gather(_pipe(c_reader, u_writer, count_up), _pipe(u_reader, c_writer, count_down))
    finally:
        with contextlib.suppress(Exception):
            u_writer.close()
            await u_writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                count: Callable[[bytes], None]) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            count(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


def _program(head: RequestHead) -> str | None:
    agent = head.header("user-agent")
    return agent.split()[0][:60] if agent and agent.split() else None


def _peer_allowed(writer: asyncio.StreamWriter, uids: frozenset[int] | None,
                  check: Callable[[int, int], bool] | None) -> bool:
    if uids is None and check is None:
        return True
    sock = writer.get_extra_info("socket")
    try:
        pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
    except (OSError, AttributeError):
        return False
    return (uids is None or uid in uids) and (check is None or check(pid, uid))
