"""An attached control center that falls behind a flood is dropped by the engine (which
never waits for it) and subscribes again from where it was; if the run ended meanwhile,
it reads the rest from the run's database. Either way it sees every event once, in order."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from engine_support import Watcher, make_team, step

from engine.run import Engine
from engine.service.control_socket import ControlServer
from memory.store import Store
from tui.remote import RemoteRun


@pytest.fixture
def sock_dir():
    path = Path(tempfile.mkdtemp(prefix="ao-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def flooded(tmp_path: Path, sock_dir: Path):
    noisy = {"id": "n", "script": [step("ask_user", question="flood?"),
                                   *(step("run_command", command="seq 1 40000")
                                     for _ in range(30)),
                                   step("ask_user", question="done?")]}
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(make_team(tmp_path, [noisy]), store)
    engine.control = ControlServer(engine, sock_dir, backlog=50)
    watcher = Watcher(engine)
    await engine.start()
    question = await watcher.wait_for("interrupt", "n")
    remote = await RemoteRun.connect(engine.control.path, limit=2 * 1024 * 1024)
    remote.client.max_buffered = 20  # a slow screen: the client soon stops reading
    history = await remote.load_history()
    slow = remote.bus.subscribe(maxsize=1)  # the bridge, not reading during the flood
    remote.follow()
    await remote.client.request({"type": "answer", "interrupt": question.data["id"],
                                 "text": "go"})
    await watcher.wait_for("interrupt", "n", prompt="done?", timeout=120)  # never held back
    assert engine.control.dropped >= 1
    return engine, watcher, store, remote, history, slow


def contiguous(events) -> bool:
    return [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_dropped_in_a_flood_it_subscribes_again_and_misses_nothing(tmp_path, sock_dir):
    engine, watcher, store, remote, history, slow = await flooded(tmp_path, sock_dir)
    seen = []
    async for event in slow:  # the screen reads again, the run still live
        seen.append(event)
        if event.type == "interrupt" and event.data.get("prompt") == "done?":
            break
    assert remote.caught_up >= 1 and contiguous(history + seen)
    await remote.client.request({"type": "answer", "interrupt": seen[-1].data["id"],
                                 "text": "yes"})
    seen += [e async for e in slow]
    assert contiguous(history + seen) and seen[-1].type == "run_finished"
    assert seen[-1].seq == watcher.events[-1].seq
    await remote.detach()
    await store.close()


async def test_dropped_near_the_end_it_reads_the_rest_from_the_database(tmp_path, sock_dir):
    engine, watcher, store, remote, history, slow = await flooded(tmp_path, sock_dir)
    await engine.stop()  # the run ends (the socket goes) before the screen reads again
    seen = [e async for e in slow]
    assert contiguous(history + seen) and seen[-1].type == "run_finished"
    assert seen[-1].seq == watcher.events[-1].seq and remote.caught_up == 0
    await remote.detach()
    await store.close()
