"""Egress proxy benchmark (measured and printed, not asserted).

    .venv/bin/python benchmarks/bench_proxy.py [--requests N] [--megabytes M]

In the same run, against the same origin on 127.0.0.1:
1. latency of one small HTTP request (connect, GET, read to close): direct TCP to the
   origin vs through an agent's proxy door (its Unix socket, plain-HTTP proxy form;
   the origin's address listed in allow), interleaved; the added latency per request.
2. throughput of one M MB download: direct vs through the door, in MB/s.
3. with Docker: the same download by busybox wget inside a container with no network,
   through the relay and the proxy, against the same wget with network unrestricted
   (Docker's bridge straight to the host's loopback is not reachable, so the direct
   baseline there is the host's own figure).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandboxes.network.policy import Policy  # noqa: E402
from sandboxes.network.proxy import ConnectionRecord, Door, EgressProxy, Request  # noqa: E402

SMALL = b"ok\n"


class Origin:
    def __init__(self, big: int) -> None:
        self.big = b"x" * big
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        body = self.big if b" /big " in head.split(b"\r\n")[0] + b" " else SMALL
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        writer.write(body)
        await writer.drain()
        writer.close()


async def fetch_direct(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    n = await drain(reader)
    writer.close()
    return n


async def fetch_proxied(door: str, port: int, path: str) -> int:
    reader, writer = await asyncio.open_unix_connection(door, limit=1 << 20)
    writer.write(f"GET http://127.0.0.1:{port}{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    n = await drain(reader)
    writer.close()
    return n


async def drain(reader: asyncio.StreamReader) -> int:
    n = 0
    while chunk := await reader.read(1 << 20):
        n += len(chunk)
    return n


async def main(requests: int, megabytes: int) -> None:
    origin = Origin(megabytes * 1024 * 1024)
    await origin.start()

    async def ask(_: Request) -> bool:
        return False

    async def report(_: ConnectionRecord) -> None:
        pass

    proxy = EgressProxy(ask, report)
    with tempfile.TemporaryDirectory() as tmp:
        door = Door("bench", f"{tmp}/proxy.sock", Policy.of([f"127.0.0.1:{origin.port}"], []))
        await proxy.open_door(door)
        direct, proxied = [], []
        for _ in range(requests):
            t = time.perf_counter()
            await fetch_direct(origin.port, "/small")
            direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            await fetch_proxied(door.path, origin.port, "/small")
            proxied.append(time.perf_counter() - t)
        d, p = statistics.median(direct) * 1e3, statistics.median(proxied) * 1e3
        print(f"1. small request, median of {requests}: direct {d:.3f} ms, through the proxy "
              f"{p:.3f} ms, added {p - d:.3f} ms per request ({p / d:.1f}x)")
        rates = {}
        for name, fetch in (("direct", lambda: fetch_direct(origin.port, "/big")),
                            ("proxy", lambda: fetch_proxied(door.path, origin.port, "/big"))):
            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                size = await fetch()
                best = max(best, size / (time.perf_counter() - t) / 1e6)
            rates[name] = best
        print(f"2. {megabytes} MB download, best of 3: direct {rates['direct']:.0f} MB/s, through "
              f"the proxy {rates['proxy']:.0f} MB/s ({rates['proxy'] / rates['direct']:.2f} of direct)")
        await in_container(origin, door, megabytes, tmp)
        await proxy.close()


async def in_container(origin: Origin, door: Door, megabytes: int, tmp: str) -> None:
    import os

    from sandboxes.base import SandboxSpec
    from sandboxes.docker import TEST_IMAGE, DockerSandbox, docker_available
    from sandboxes.relay import PROXY_PORT, PROXY_SOCKET, proxy_env

    if not docker_available(timeout=3):
        print("3. skipped: no Docker daemon")
        return
    folder = Path(tmp) / "door"
    folder.mkdir()
    os.chmod(folder, 0o755)
    os.rename(door.path, folder / PROXY_SOCKET)  # the listening door moves into the bound folder
    sb = DockerSandbox(SandboxSpec(backend="docker", workspace=Path(tmp) / "ws", run_id="bench",
                                   agent_id="bench", image=TEST_IMAGE, service_dir=folder,
                                   relays=((PROXY_PORT, PROXY_SOCKET),), env=proxy_env()))
    await sb.start()
    try:
        url = f"http://127.0.0.1:{origin.port}/big"
        best = 0.0
        for _ in range(3):
            t = time.perf_counter()
            r = await sb.exec(f"wget -q -O /dev/null {url}", 120)
            elapsed = time.perf_counter() - t
            if r.exit_code != 0:
                print(f"3. wget failed: {r.output.strip()[:200]}")
                return
            best = max(best, megabytes * 1024 * 1024 / elapsed / 1e6)
        print(f"3. {megabytes} MB by wget in a container without a network, through the relay and "
              f"the proxy: {best:.0f} MB/s (best of 3, including the command's start)")
    finally:
        await sb.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.megabytes))
