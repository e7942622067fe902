"""The control socket: commands, subscribe (history then live), many clients, bad input,
a client that stops reading, and the end of the run; all against a real engine."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from engine_support import make_team, step

from engine.service.client import ClientError, ControlClient
from engine.service.control_socket import ControlServer


@pytest.fixture
def sock_dir():
    path = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))  # short: sun_path is 108 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def served(team, tmp_path, sock_dir, **kw):
    from engine_support import Watcher

    from engine.run import Engine
    from memory.store import Store

    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    engine.control = ControlServer(engine, sock_dir, **kw)
    watcher = Watcher(engine)
    await engine.start()
    return engine, watcher, store


def asker(agent: str = "a", before: int = 0) -> dict:
    return {"id": agent, "script": [*(step("run_command", command=f"echo {i}")
                                      for i in range(before)),
                                    step("ask_user", question="Colour?")]}


async def test_socket_is_private_recorded_and_answers_commands(tmp_path, sock_dir):
    engine, w, store = await served(make_team(tmp_path, [asker()]), tmp_path, sock_dir)
    intr = await w.wait_for("interrupt", "a", kind="user_input")
    path = engine.control.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o700
    await store.flush()
    row = (await store.query("SELECT socket FROM runs WHERE id=?", (engine.run_id,)))[0]
    assert row[0] == str(path)
    client = await ControlClient.connect(path, name="test")
    assert client.hello["run_id"] == engine.run_id and client.hello["agents"] == ["a"]
    assert client.hello["protocol"] == 1
    state = await client.request({"type": "state"})
    assert state["agents"]["a"]["status"] == "waiting_user"
    with pytest.raises(ClientError, match="no interrupt 'i99'"):
        await client.request({"type": "answer", "interrupt": "i99", "text": "x"})
    await client.request({"type": "answer", "interrupt": intr.data["id"], "text": "blue"})
    answered = await w.wait_for("interrupt_answered")
    assert answered.data["answer"]["via"] == f"test (pid {os.getpid()})"
    assert answered.data["answer"]["by"] == "user"
    await engine.wait()
    from engine.export import export_markdown

    transcript = export_markdown(await store.run(engine.run_id), w.events)
    assert f"answered by user via test (pid {os.getpid()}): “blue”" in transcript
    assert await client.next_event() is None  # the run ended: the connection closed
    assert not path.exists()
    await store.flush()
    row = (await store.query("SELECT socket FROM runs WHERE id=?", (engine.run_id,)))[0]
    assert row[0] is None
    await client.close()
    await store.close()


async def raw_lines(path: Path, lines: list[bytes], count: int) -> list[dict]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    for line in lines:
        writer.write(line)
    await writer.drain()
    out = [json.loads(await reader.readline()) for _ in range(count)]
    writer.close()
    return out


async def test_bad_input_gets_an_error_reply_and_the_next_line_is_served(tmp_path, sock_dir):
    engine, w, store = await served(make_team(tmp_path, [asker()]), tmp_path, sock_dir)
    await w.wait_for("interrupt", "a", kind="user_input")
    replies = await raw_lines(engine.control.path, [
        b"this is not json\n", b"[1, 2]\n", b'{"type": "fly", "id": "c1"}\n',
        b'{"type": "pause", "id": 7}\n', b"\xff\xfe{\n", b"x" * (1024 * 1024 + 10) + b"\n",
        b'{"type": "subscribe", "from_seq": -3, "id": "s"}\n',
        b'{"type": "pause", "agent": "a", "id": "ok"}\n'], 9)
    hello, *rest = replies
    assert hello["type"] == "hello"
    assert [r["type"] for r in rest] == ["error"] * 7 + ["ok"]
    assert "not JSON" in rest[0]["text"]
    assert "JSON object" in rest[1]["text"]
    assert rest[2]["id"] == "c1" and "unknown command type 'fly'" in rest[2]["text"]
    assert rest[3]["id"] == 7 and "needs a string field 'agent'" in rest[3]["text"]
    assert "longer than" in rest[5]["text"]
    assert rest[6]["id"] == "s" and "from_seq" in rest[6]["text"]
    assert rest[7]["id"] == "ok"
    await w.wait_for("agent_status", "a", status="paused")
    await engine.stop()
    await store.close()


async def test_subscribe_replays_history_then_live_nothing_lost_nothing_doubled(
        tmp_path, sock_dir):
    team = make_team(tmp_path, [asker("a", before=40), asker("b", before=40)])
    engine, w, store = await served(team, tmp_path, sock_dir)
    await w.wait_for("tool_result", "a")  # the run is under way: history exists
    client = await ControlClient.connect(engine.control.path)
    await client.subscribe(from_seq=1)
    got = []
    asked = set()
    while len(asked) < 2:
        event = await asyncio.wait_for(client.next_event(), 30)
        got.append(event)
        if event.type == "interrupt":
            asked.add(event.data["id"])
            await client.request({"type": "answer", "interrupt": event.data["id"], "text": "x"})
    await engine.wait()
    got += [e async for e in client.events()]
    assert [e.seq for e in got] == list(range(1, len(got) + 1))
    assert [(e.seq, e.type, e.agent, e.data) for e in got] == \
        [(e.seq, e.type, e.agent, json.loads(json.dumps(e.data))) for e in w.events]
    await client.close()
    await store.close()


async def test_two_clients_see_each_others_answers_and_live_only_subscribe(tmp_path, sock_dir):
    engine, w, store = await served(make_team(tmp_path, [asker("a"), asker("b")]), tmp_path,
                                    sock_dir)
    await w.wait_for("interrupt", "b", kind="user_input")
    one = await ControlClient.connect(engine.control.path, name="one")
    two = await ControlClient.connect(engine.control.path, name="two")
    last = await two.subscribe()  # live only
    await one.subscribe(from_seq=1)
    pending = {e.agent: e.data["id"] for e in w.find("interrupt")}
    await one.request({"type": "answer", "interrupt": pending["a"], "text": "from one"})
    await two.request({"type": "answer", "interrupt": pending["b"], "text": "from two"})
    await engine.wait()
    seen_by_two = [e async for e in two.events()]
    seen_by_one = [e async for e in one.events()]
    assert all(e.seq > last for e in seen_by_two)
    for seen in (seen_by_one, seen_by_two):
        vias = {e.agent: e.data["answer"]["via"] for e in seen if e.type == "interrupt_answered"}
        assert vias == {"a": f"one (pid {os.getpid()})", "b": f"two (pid {os.getpid()})"}
    with pytest.raises(ClientError, match="ended"):
        await one.request({"type": "pause", "agent": "a"})
    await one.close()
    await two.close()
    await store.close()


async def test_a_client_that_stops_reading_never_stalls_the_engine(tmp_path, sock_dir):
    noisy = {"id": "n", "script": [step("ask_user", question="flood?"),
                                   *(step("run_command", command="seq 1 40000")
                                     for _ in range(30))]}
    engine, w, store = await served(make_team(tmp_path, [noisy]), tmp_path, sock_dir,
                                    backlog=200)
    question = await w.wait_for("interrupt", "n")
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(stalled, str(engine.control.path))
    stalled.sendall(b'{"type": "subscribe"}\n')  # live from here, and never reads again
    while not engine.control.subscribers:  # the server took the subscription
        await asyncio.sleep(0.01)
    await engine.answer(question.data["id"], "yes")  # the flood begins
    async def dropped() -> list:
        while not (found := [e for e in w.find("notice") if "dropped" in e.data["text"]]):
            await asyncio.sleep(0.01)
        return found
    notice = (await asyncio.wait_for(dropped(), 60))[0]
    assert "fell 200 events behind and was dropped (the run goes on)" in notice.data["text"]
    status = await asyncio.wait_for(engine.wait(), 120)
    assert status == "finished" and engine.control.dropped == 1
    received = b""
    while chunk := await asyncio.wait_for(loop.sock_recv(stalled, 1 << 20), 30):
        received += chunk
    last = json.loads(received.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    assert last["type"] == "dropped" and "subscribe again with from_seq" in last["text"]
    stalled.close()
    await store.close()


async def test_sockets_of_killed_runs_are_swept_when_a_run_starts(tmp_path, sock_dir):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock_dir / "20260101-000000-dead.sock"))
    dead.close()  # bound, never listening again: what a killed engine leaves
    alive = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    alive.bind(str(sock_dir / "20260101-000000-alive.sock"))
    alive.listen(1)
    engine, w, store = await served(make_team(tmp_path, [asker()]), tmp_path, sock_dir)
    await w.wait_for("interrupt", "a")
    names = sorted(p.name for p in sock_dir.iterdir())
    assert names == ["20260101-000000-alive.sock", f"{engine.run_id}.sock"]
    alive.close()
    await engine.stop()
    await store.close()
