"""A racer swapping a folder of the workspace for a symlink to a host folder (and back)
while checkpoints read it (local backend, descriptor walk): no host file content ever
enters a snapshot, whatever the timing."""

from __future__ import annotations

import os
import threading

from sandboxes.workspaces.snapshot import local_entries

SECRET = b"HOST SECRET 4242"


def test_a_symlink_swap_during_the_walk_never_leaks_a_host_file(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "f.txt").write_bytes(SECRET)
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    (ws / "d" / "f.txt").write_bytes(b"agent data")
    for i in range(50):
        (ws / f"pad{i}.txt").write_text("x")
    stop = threading.Event()
    swaps = 0

    def racer() -> None:
        nonlocal swaps
        while not stop.is_set():
            os.rename(ws / "d", ws / "d.real")
            os.symlink(host, ws / "d")
            os.unlink(ws / "d")
            os.rename(ws / "d.real", ws / "d")
            swaps += 1

    thread = threading.Thread(target=racer)
    thread.start()
    seen_agent_data = 0
    try:
        for _ in range(1000):
            for entry in local_entries(str(ws), lambda p, s: False):
                assert SECRET not in (entry.data or b""), f"host file read through {entry.path!r}"
                if entry.mode == "120000":
                    assert entry.data == os.fsencode(host), "a link is recorded as its target text"
                if entry.data == b"agent data":
                    seen_agent_data += 1
    finally:
        stop.set()
        thread.join()
    assert swaps > 100 and seen_agent_data > 0, (swaps, seen_agent_data)
