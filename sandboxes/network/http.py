"""The little HTTP/1.x the proxy and the model sockets need: request and response heads
parsed, a request rewritten, a body read, a short answer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sandboxes.network.policy import PatternError, normal_host, split_host_port

MAX_HEAD = 64 * 1024
#: headers that concern one hop only: never forwarded
HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                         "proxy-authenticate", "te", "trailer", "upgrade"})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HOST_CHARS = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,255}$")


class BadRequest(Exception):
    """A request the proxy cannot serve; the message is shown to the client."""


class Head:
    """What request and response heads share: their header lines."""

    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def has(self, name: str, token: str) -> bool:
        """Whether header ``name`` holds ``token`` (e.g. transfer-encoding: chunked)."""
        return token in (self.header(name) or "").lower()


@dataclass
class RequestHead(Head):
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ResponseHead(Head):
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)


def _header_lines(lines: list[str], what: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise BadRequest(f"a {what} header is malformed")
        headers.append((name, value.strip()))
    return headers


def parse_head(data: bytes) -> RequestHead:
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[2].startswith("HTTP/1."):
        raise BadRequest("the request is not HTTP/1.x; use the sandbox's HTTP_PROXY")
    return RequestHead(parts[0].upper(), parts[1], parts[2], _header_lines(lines[1:], "request"))


def parse_response_head(data: bytes) -> ResponseHead:
    lines = data.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise BadRequest("the answer is not HTTP/1.x")
    return ResponseHead(int(code), reason, _header_lines(lines[1:], "response"))


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """One message head, up to its blank line ("" at a clean end of the connection);
    over :data:`MAX_HEAD` (the reader's limit) or cut short is a BadRequest."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return b""
        raise BadRequest("the connection ended inside a message head") from None
    except asyncio.LimitOverrunError:
        raise BadRequest("the message head is too long") from None


def content_length(head: Head) -> int | None:
    """The declared body length (None: none declared); a bad one is a BadRequest."""
    value = head.header("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise BadRequest("the content-length is not a number")
    return int(value)


async def body_chunks(reader: asyncio.StreamReader, head: Head,
                      until_close: bool = True) -> AsyncIterator[bytes]:
    """A message body, piece by piece: chunked, by content-length, or (a response
    without either, ``until_close``) up to the end of the connection."""
    if head.has("transfer-encoding", "chunked"):
        while True:
            size_line = (await reader.readuntil(b"\r\n")).split(b";")[0].strip()
            try:
                size = int(size_line or b"0", 16)
            except ValueError:
                raise BadRequest("a chunk size is malformed") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return
            left = size
            while left:
                chunk = await reader.readexactly(min(left, 65536))
                left -= len(chunk)
                yield chunk
            await reader.readexactly(2)
    elif (length := content_length(head)) is not None:
        while length > 0:
            chunk = await reader.read(min(length, 65536))
            if not chunk:
                raise BadRequest("the connection ended inside a message body")
            length -= len(chunk)
            yield chunk
    elif until_close:
        while chunk := await reader.read(65536):
            yield chunk


def host_and_port(text: str, default_port: int) -> tuple[str, int]:
    """`host[:port]` from a CONNECT target or a Host header, checked and normalised."""
    if not _HOST_CHARS.match(text):
        raise BadRequest("the host name holds characters no host name has")
    try:
        host, port = split_host_port(text)
    except PatternError as exc:
        raise BadRequest(str(exc)) from None
    host = normal_host(host)
    if not host:
        raise BadRequest("the request names no host")
    return host, port or default_port


@dataclass
class PlainTarget:
    host: str
    port: int
    path: str  # origin form: /path?query


def plain_target(head: RequestHead) -> PlainTarget:
    """Where a plain-HTTP proxy request goes; its Host header must name the same host."""
    if not head.target.lower().startswith("http://"):
        if head.target.startswith("/"):
            raise BadRequest("this is the sandbox's proxy, not a web server: "
                             "send requests through HTTP_PROXY")
        raise BadRequest("only http:// URLs go through plainly; https goes through CONNECT")
    url = urlsplit(head.target)
    if url.username or url.password:
        raise BadRequest("a URL with a user name or password is not forwarded")
    host, port = host_and_port(url.netloc, 80)
    given = head.header("host")
    if given is not None:
        other, other_port = host_and_port(given, 80)
        if (other, other_port) != (host, port):
            raise BadRequest(f"the Host header ({other}) differs from the URL's host ({host})")
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    return PlainTarget(host, port, path)


def forward_head(head: RequestHead, target: PlainTarget, host_header: str,
                 replace: dict[str, str]) -> bytes:
    """The request as the origin server gets it: origin form, one request, our headers."""
    drop = HOP_HEADERS | {"host"} | {k.lower() for k in replace}
    lines = [f"{head.method} {target.path} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in drop]
    lines += [f"{k}: {v}" for k, v in replace.items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response(status: int, reason: str, text: str = "") -> bytes:
    """A short answer of the proxy itself (errors name agentorch and what to do)."""
    body = (text or reason).encode("utf-8", "replace") + b"\n"
    reason = re.sub(r"[^\x20-\x7e]", "?", reason)[:200]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1") + body
