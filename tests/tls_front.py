"""A TLS front for the second dockerd's Unix socket: stands in for `dockerd --tlsverify
-H tcp://…` (a daemon in its own network namespace cannot listen on this one's loopback).

Run as a script: ``python tests/tls_front.py UNIX_SOCKET CERT_DIR PORT_FILE``.  It serves
TLS on 127.0.0.1 with a client certificate required, relays each connection to the Unix
socket, half-closes towards the daemon when the client's side ends and closes the TLS
connection when the daemon's side does, as dockerd does.  :func:`make_certs` writes a CA,
the server's certificate and the client's ``ca.pem``/``cert.pem``/``key.pem`` (the names
DOCKER_CERT_PATH wants).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import sys
from pathlib import Path


def make_certs(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def cert(name: str, key, issuer_name, issuer_key, ca: bool, usage, san=None):
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(issuer_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(name: str, obj) -> None:
        data = (obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
                if hasattr(obj, "private_bytes") else obj.public_bytes(serialization.Encoding.PEM))
        (folder / name).write_bytes(data)

    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
    ca = cert("test ca", ca_key, ca_name, ca_key, True, None)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = cert("127.0.0.1", server_key, ca_name, ca_key, False, ExtendedKeyUsageOID.SERVER_AUTH,
                  [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = cert("client", client_key, ca_name, ca_key, False, ExtendedKeyUsageOID.CLIENT_AUTH)
    write("ca.pem", ca)
    write("server-cert.pem", server)
    write("server-key.pem", server_key)
    write("cert.pem", client)
    write("key.pem", client_key)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, ssl.SSLError):
        pass


async def _serve(unix_path: str, certs: Path, port_file: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
    context.load_cert_chain(certs / "server-cert.pem", certs / "server-key.pem")
    context.verify_mode = ssl.CERT_REQUIRED

    async def handle(creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        ureader, uwriter = await asyncio.open_unix_connection(unix_path)
        up = asyncio.ensure_future(_pump(creader, uwriter))
        await _pump(ureader, cwriter)
        cwriter.close()
        uwriter.close()
        up.cancel()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
