"""Which hosts an agent may reach: host patterns, allow/deny lists, forbidden addresses.

A pattern is a host name (`pypi.org`), a wildcard over its subdomains
(`*.pythonhosted.org`: `files.pythonhosted.org`, not `pythonhosted.org` itself), an IP
address (`127.0.0.1`, `[::1]`), each optionally with a port (`github.com:443`);
without a port every port matches.  Deny wins over allow.

Addresses: a name is resolved once by the proxy and the connection goes to the address
it checked.  Private, loopback, link-local, shared, multicast and reserved addresses
(the host itself, the LAN, Docker's bridge networks, cloud metadata) are refused unless
that very address is listed in `allow` (a name never opens them).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

ALLOW = "allow"
DENY = "deny"
ASK = "ask"

_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_NAME_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*\.?$")


class PatternError(ValueError):
    """A host pattern that cannot be understood; the message says how to write it."""


@dataclass(frozen=True)
class HostPattern:
    host: str  # lower case, no trailing dot; an address in its compressed form
    port: int | None = None
    wildcard: bool = False  # `*.example.org`: subdomains only
    address: bool = False  # the pattern is an IP address

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        host = normal_host(host)
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        if self.address and ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}" if self.port is not None else host


def normal_host(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets, an address in one spelling."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def split_host_port(text: str) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port`, `host` -> (host, port or None).  Raises PatternError."""
    text = text.strip()
    port_text = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise PatternError(f"{text!r} opens a [ without closing it")
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise PatternError(f"{text!r}: write [address]:port")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise PatternError(f"{text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    return host, port


def parse_pattern(text: str) -> HostPattern:
    if not isinstance(text, str) or not text.strip():
        raise PatternError("a host pattern must be a non-empty text such as pypi.org or *.github.com:443")
    if "://" in text or "/" in text:
        raise PatternError(f"{text!r} is a URL; write only the host, e.g. pypi.org or pypi.org:443")
    host, port = split_host_port(text)
    try:
        return HostPattern(str(ipaddress.ip_address(host)), port, address=True)
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    if not _NAME_RE.match(name) or "*" in name[2:]:
        raise PatternError(f"{text!r} is not a host pattern; write a name (pypi.org), "
                           "*.name for its subdomains, or an IP address, each with an optional :port")
    wildcard = name.startswith("*.")
    return HostPattern(name[2:] if wildcard else name, port, wildcard=wildcard)


def pattern_problem(text: str) -> str | None:
    try:
        parse_pattern(text)
    except PatternError as exc:
        return str(exc)
    return None


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def forbidden_address(address: str) -> bool:
    """True for addresses an allowed *name* may never lead to (see the module doc)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


@dataclass
class Policy:
    """One agent's rules: allow and deny patterns, plus hosts the person allowed."""

    allow: list[HostPattern] = field(default_factory=list)
    deny: list[HostPattern] = field(default_factory=list)

    @classmethod
    def of(cls, allow: list[str], deny: list[str]) -> Policy:
        return cls([parse_pattern(p) for p in allow], [parse_pattern(p) for p in deny])

    def decide(self, host: str, port: int) -> str:
        """`deny` (a deny pattern matches), `allow`, or `ask` (listed nowhere)."""
        if any(p.matches(host, port) for p in self.deny):
            return DENY
        if any(p.matches(host, port) for p in self.allow):
            return ALLOW
        return ASK

    def add(self, host: str, port: int | None = None) -> None:
        """Allow one more host (an answer of the person)."""
        self.allow.append(parse_pattern(f"[{host}]" if ":" in host and port is None else host)
                          if port is None else parse_pattern(host_port(host, port)))

    def address_listed(self, address: str, port: int) -> bool:
        """The address itself (not a name leading to it) is allowed and not denied."""
        address = normal_host(address)
        listed = any(p.address and p.matches(address, port) for p in self.allow)
        return listed and not any(p.matches(address, port) for p in self.deny)


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
