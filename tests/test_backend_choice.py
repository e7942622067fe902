"""Choosing the backend: the Docker ping never blocks the engine's event loop."""

from __future__ import annotations

import asyncio
import socket

from sandboxes.docker_client import docker_answers


async def test_the_docker_ping_runs_off_the_event_loop(tmp_path, monkeypatch):
    path = tmp_path / "mute.sock"
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(str(path))
    mute.listen()  # accepts connections, never answers: the ping waits for its timeout
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        ping = asyncio.create_task(docker_answers(timeout=1))
        turns = 0
        while not ping.done():
            await asyncio.sleep(0.01)
            turns += 1
        assert await ping is False
        assert turns >= 5, "the event loop stood still while Docker was pinged"
    finally:
        mute.close()
