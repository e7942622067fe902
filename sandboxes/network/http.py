"""The little HTTP/1.x the proxy needs: a request head parsed, rewritten, answered."""

from __future__ import annotations

import re
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


@dataclass
class RequestHead:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def parse_head(data: bytes) -> RequestHead:
    try:
        text = data.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
        raise BadRequest("the request is not HTTP") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[2].startswith("HTTP/1."):
        raise BadRequest("the request is not HTTP/1.x; use the sandbox's HTTP_PROXY")
    head = RequestHead(parts[0].upper(), parts[1], parts[2])
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.match(name):
            raise BadRequest("a request header is malformed")
        head.headers.append((name, value.strip()))
    return head


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
