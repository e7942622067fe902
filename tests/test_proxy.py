"""The egress proxy by attack: real sockets, real servers on 127.0.0.1, no Docker.

The allowed test destinations are listed by address (`127.0.0.1:PORT`): a name never
leads to a loopback address, and there is no test-only loophole."""

from __future__ import annotations

import pytest

from sandboxes.network.policy import PatternError, Policy, parse_pattern
from sandboxes.network.proxy import Secret
from tests.proxy_support import FakeOrigin, client_hello, open_proxy


@pytest.fixture
async def origin():
    server = await FakeOrigin().start()
    yield server
    await server.stop()


def get(port: int, host: str = "127.0.0.1", extra: str = "") -> bytes:
    return (f"GET http://{host}:{port}/x?y=1 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Proxy-Connection: keep-alive\r\nUser-Agent: Wget/1.0\r\n{extra}\r\n").encode()


async def test_allowed_address_is_reached_in_origin_form(tmp_path, origin):
    p = await open_proxy(tmp_path, [f"127.0.0.1:{origin.port}"])
    try:
        out = await p.request(get(origin.port))
    finally:
        await p.proxy.close()
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(origin.body)
    head = origin.heads[0].decode()
    assert head.startswith("GET /x?y=1 HTTP/1.1") and "Proxy-Connection" not in head
    [record] = await p.settled()
    assert (record.agent, record.host, record.port, record.allowed) == ("coder", "127.0.0.1",
                                                                        origin.port, True)
    assert record.up > 0 and record.down == len(out) and record.program == "Wget/1.0"


async def test_unlisted_host_is_refused_with_a_sentence(tmp_path, origin):
    p = await open_proxy(tmp_path, ["pypi.org"])
    try:
        out = await p.request(get(origin.port))
    finally:
        await p.proxy.close()
    assert out.startswith(b"HTTP/1.1 403 agentorch: 127.0.0.1:")
    assert b"not on the network allow list of agent coder" in out
    assert origin.heads == [] and not (await p.settled())[0].allowed


async def test_deny_wins_over_allow(tmp_path, origin):
    p = await open_proxy(tmp_path, [f"127.0.0.1:{origin.port}"], ["127.0.0.1"])
    try:
        out = await p.request(get(origin.port))
    finally:
        await p.proxy.close()
    assert b" 403 " in out.split(b"\r\n")[0] and b"denied" in out and origin.heads == []


async def test_a_name_never_leads_to_loopback(tmp_path, origin):
    p = await open_proxy(tmp_path, ["localhost"])
    try:
        out = await p.request(get(origin.port, host="localhost"))
    finally:
        await p.proxy.close()
    assert b" 403 " in out.split(b"\r\n")[0]
    assert b"private or local address" in out and origin.heads == []


async def test_host_header_must_agree_with_the_url(tmp_path, origin):
    p = await open_proxy(tmp_path, [f"127.0.0.1:{origin.port}"])
    try:
        out = await p.request(f"GET http://127.0.0.1:{origin.port}/ HTTP/1.1\r\n"
                              "Host: evil.example\r\n\r\n".encode())
    finally:
        await p.proxy.close()
    assert out.startswith(b"HTTP/1.1 400") and b"differs" in out and origin.heads == []


async def test_a_tunnel_whose_sni_differs_from_its_connect_host_is_refused(tmp_path, origin):
    p = await open_proxy(tmp_path, [f"127.0.0.1:{origin.port}"])
    try:
        out = await p.request(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\n".encode(),
                              then=client_hello("blocked.example"))
    finally:
        await p.proxy.close()
    assert out.startswith(b"HTTP/1.1 200")
    assert origin.raw == []  # the hello never reached the server
    [record] = await p.settled()
    assert not record.allowed and "blocked.example" in record.reason


async def test_a_tunnel_whose_sni_agrees_goes_through(tmp_path, origin):
    p = await open_proxy(tmp_path, ["localhost"], answer=None)
    p.door.policy = Policy.of([f"127.0.0.1:{origin.port}"], [])
    hello = client_hello("127.0.0.1")  # Python sends no SNI for an address: raw passes
    try:
        await p.request(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\n".encode(), then=hello)
    finally:
        await p.proxy.close()
    assert origin.raw == [hello]
    assert (await p.settled())[0].allowed


async def test_unlisted_host_is_held_until_the_person_answers(tmp_path, origin):
    for answer, status in ((True, b"200"), (False, b"403")):
        p = await open_proxy(tmp_path, [], answer=answer)
        try:
            out = await p.request(get(origin.port))
        finally:
            await p.proxy.close()
        assert out.split(b"\r\n")[0].split(b" ")[1] == status
        [asked] = p.asked
        assert (asked.agent, asked.host, asked.port, asked.method) == ("coder", "127.0.0.1",
                                                                       origin.port, "GET")
    assert len(origin.heads) == 1


async def test_a_door_refuses_peers_it_does_not_know(tmp_path, origin):
    import os

    p = await open_proxy(tmp_path, [f"127.0.0.1:{origin.port}"], uids=frozenset({os.getuid() + 1}))
    try:
        out = await p.request(get(origin.port))
    except ConnectionResetError:
        out = b""
    finally:
        await p.proxy.close()
    assert out == b"" and origin.heads == []


async def test_a_secret_is_added_on_the_way_out_only(tmp_path, origin):
    secret = Secret(parse_pattern("api.test"), "x-api-key", "sk-test-SECRET",
                    upstream=f"http://127.0.0.1:{origin.port}")
    p = await open_proxy(tmp_path, ["api.test", f"127.0.0.1:{origin.port}"], secrets=[secret])
    try:
        out = await p.request(b"POST http://api.test/v1/messages HTTP/1.1\r\nHost: api.test\r\n"
                              b"x-api-key: from-the-sandbox\r\nContent-Length: 2\r\n\r\n{}")
    finally:
        await p.proxy.close()
    assert out.startswith(b"HTTP/1.1 200") and b"SECRET" not in out
    head = origin.heads[0].decode()
    assert "x-api-key: sk-test-SECRET" in head and "from-the-sandbox" not in head
    assert origin.raw[0].endswith(b"{}")


@pytest.mark.parametrize("text", ["http://pypi.org", "py pi.org", "*.*.org", "a.org:0", "[::1"])
def test_bad_patterns_say_how_to_write_them(text):
    with pytest.raises(PatternError):
        parse_pattern(text)


def test_patterns_match_hosts_and_ports():
    policy = Policy.of(["pypi.org", "*.pythonhosted.org", "github.com:443", "[::1]:8080"],
                       ["evil.pythonhosted.org"])
    assert policy.decide("PyPI.org.", 80) == "allow"
    assert policy.decide("files.pythonhosted.org", 443) == "allow"
    assert policy.decide("pythonhosted.org", 443) == "ask"
    assert policy.decide("evil.pythonhosted.org", 443) == "deny"
    assert policy.decide("github.com", 22) == "ask"
    assert policy.address_listed("::1", 8080) and not policy.address_listed("127.0.0.1", 8080)


async def test_one_agent_cannot_use_up_the_connections(tmp_path, origin):
    import asyncio

    from sandboxes.network import proxy as proxy_module

    p = await open_proxy(tmp_path, [], answer=True)
    held = asyncio.Event()

    async def slow_ask(request):
        await held.wait()
        return False

    p.proxy.ask = slow_ask
    waiting = [asyncio.create_task(p.request(get(origin.port))) for _ in range(proxy_module.PER_AGENT)]
    for _ in range(500):
        if p.door.slots.locked():
            break
        await asyncio.sleep(0.01)
    try:
        out = await p.request(get(origin.port))
        assert out.startswith(b"HTTP/1.1 503") and b"too many connections" in out
    finally:
        held.set()
        await asyncio.gather(*waiting)
        await p.proxy.close()
