"""Peeking the server name (SNI) out of a TLS ClientHello, without decrypting anything.

The proxy reads the first bytes a client sends into a CONNECT tunnel; if they are a
TLS handshake, the name the client asks the server for must be the CONNECT host.
"""

from __future__ import annotations

import asyncio

#: the most bytes of handshake we read to find the name (a ClientHello is ~0.5-2 KiB)
MAX_HELLO = 64 * 1024


class NotTLS(Exception):
    """The first bytes are not a TLS handshake (raw TCP through the tunnel)."""


async def read_client_hello(reader: asyncio.StreamReader) -> tuple[bytes, str | None]:
    """The raw records read (to forward them) and the SNI host name (None if absent).

    Raises NotTLS with the bytes read when the stream does not start a TLS handshake,
    ValueError for a malformed hello, asyncio.IncompleteReadError when it ends early.
    """
    raw = bytearray()
    handshake = bytearray()
    need = None
    while need is None or len(handshake) < need:
        header = await reader.readexactly(5)
        raw += header
        if header[0] != 0x16 or header[1] != 0x03:
            raise NotTLS(bytes(raw))
        length = int.from_bytes(header[3:5], "big")
        body = await reader.readexactly(length)
        raw += body
        handshake += body
        if need is None and len(handshake) >= 4:
            if handshake[0] != 0x01:
                raise ValueError("the first handshake message is not a ClientHello")
            need = 4 + int.from_bytes(handshake[1:4], "big")
        if len(raw) > MAX_HELLO:
            raise ValueError("the ClientHello is too large")
    return bytes(raw), server_name(bytes(handshake[4:need]))


def server_name(hello: bytes) -> str | None:
    """The host_name entry of the server_name extension of a ClientHello body."""
    pos = 2 + 32  # client version, random
    pos += 1 + hello[pos]  # session id
    pos += 2 + int.from_bytes(hello[pos:pos + 2], "big")  # cipher suites
    pos += 1 + hello[pos]  # compression methods
    if pos + 2 > len(hello):
        return None  # no extensions
    end = pos + 2 + int.from_bytes(hello[pos:pos + 2], "big")
    pos += 2
    if end > len(hello):
        raise ValueError("truncated extensions")
    while pos + 4 <= end:
        kind = int.from_bytes(hello[pos:pos + 2], "big")
        size = int.from_bytes(hello[pos + 2:pos + 4], "big")
        data = hello[pos + 4:pos + 4 + size]
        pos += 4 + size
        if kind != 0:
            continue
        at = 2  # server name list length
        while at + 3 <= len(data):
            name_type = data[at]
            name_len = int.from_bytes(data[at + 1:at + 3], "big")
            name = data[at + 3:at + 3 + name_len]
            at += 3 + name_len
            if name_type == 0:
                try:
                    return name.decode("ascii")
                except UnicodeDecodeError:
                    raise ValueError("the server name is not ASCII") from None
        return None
    return None
