"""Real servers on 127.0.0.1 and a real proxy door for the egress tests."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from sandboxes.network.policy import Policy
from sandboxes.network.proxy import ConnectionRecord, Door, EgressProxy, Request


@dataclass
class FakeOrigin:
    """An HTTP server on 127.0.0.1 that records what it received and answers `hello`."""

    heads: list[bytes] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    body: bytes = b"hello from origin\n"
    port: int = 0
    server: asyncio.AbstractServer | None = None

    async def start(self) -> FakeOrigin:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.read(65536)
            self.raw.append(first)
            if first.startswith(b"\x16"):  # a TLS hello through a tunnel: record it, close
                return
            self.heads.append(first.split(b"\r\n\r\n")[0])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(self.body) + self.body)
            await writer.drain()
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass
class ProxyUnderTest:
    proxy: EgressProxy
    door: Door
    records: list[ConnectionRecord]
    asked: list[Request]

    async def request(self, data: bytes, then: bytes = b"") -> bytes:
        """Send ``data`` on the agent's door, then ``then`` once an answer head came; all read back."""
        reader, writer = await asyncio.open_unix_connection(self.door.path)
        writer.write(data)
        await writer.drain()
        out = b""
        if then:
            out = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " in out.split(b"\r\n")[0]:
                writer.write(then)
                await writer.drain()
        out += await reader.read()
        writer.close()
        return out

    async def settled(self, count: int = 1) -> list[ConnectionRecord]:
        for _ in range(500):
            if len(self.records) >= count:
                return self.records
            await asyncio.sleep(0.01)
        raise AssertionError(f"expected {count} connection records, got {self.records}")


async def open_proxy(tmp_path, allow: list[str], deny: list[str] | None = None, *,
                     answer: bool | None = None, **door: object) -> ProxyUnderTest:
    records: list[ConnectionRecord] = []
    asked: list[Request] = []

    async def ask(request: Request) -> bool:
        asked.append(request)
        return bool(answer)

    async def report(record: ConnectionRecord) -> None:
        records.append(record)

    proxy = EgressProxy(ask, report)
    d = Door("coder", str(tmp_path / "coder.sock"), Policy.of(allow, deny or []),
             ask_unlisted=answer is not None, **door)  # type: ignore[arg-type]
    await proxy.open_door(d)
    return ProxyUnderTest(proxy, d, records, asked)


def client_hello(server_name: str) -> bytes:
    """The first flight of a real TLS client asking for ``server_name``."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class ThreadedOrigin:
    """The same origin in a thread, for tests that drive a headless engine process."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.paths: list[str] = []
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                origin.paths.append(self.path)
                body = b"hello from origin\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.02})  # stop() waits a poll
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
