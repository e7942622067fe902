"""The event player behind `agentorch-tui replay`: pace, pause, step, speed, jump."""

from __future__ import annotations

import asyncio

import pytest

from engine import events as ev
from engine.replay import SPEEDS, EventPlayer


def recorded(gaps: list[float]) -> list[ev.Event]:
    """Events whose recorded times are ``gaps`` apart (the first at t=1000)."""
    ts, out = 1000.0, [ev.Event(ev.RUN_STARTED, "r", 1, 1000.0)]
    for i, gap in enumerate(gaps, start=2):
        ts += gap
        out.append(ev.Event(ev.NOTICE, "r", i, ts, None, {"text": str(i)}))
    return out


async def drain(player: EventPlayer) -> list[int]:
    sub = player.bus.subscribe()
    task = asyncio.create_task(player.run())
    seen = [e.seq async for e in sub]
    await task
    return seen


async def test_plays_every_event_in_order_then_closes_the_bus() -> None:
    player = EventPlayer(recorded([0.0, 0.01, 0.0]), speed=64)
    assert await drain(player) == [1, 2, 3, 4]
    assert player.at_end and player.bus.closed


async def test_waits_the_recorded_gaps_scaled_by_speed_and_capped() -> None:
    player = EventPlayer(recorded([0.1, 3600.0]), speed=2.0, max_gap=0.2)
    assert player.delay_before(1) == pytest.approx(0.05)
    assert player.delay_before(2) == pytest.approx(0.1)  # an hour cut to 0.2 s, at ×2
    loop = asyncio.get_running_loop()
    started = loop.time()
    await drain(player)
    assert loop.time() - started >= 0.14


async def until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()`` (no fixed sleep before an assert)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


async def test_paused_publishes_nothing_until_stepped() -> None:
    player = EventPlayer(recorded([0.0, 0.0]), paused=True)
    sub = player.bus.subscribe()
    task = asyncio.create_task(player.run())
    await asyncio.sleep(0.05)
    assert player.position == 0 and sub.get_batch() == []
    player.step()
    await until(lambda: player.position == 1)
    assert [e.seq for e in sub.get_batch()] == [1]
    player.step(2)
    await until(lambda: player.at_end)
    assert player.paused
    await task


async def test_stepping_while_playing_pauses() -> None:
    player = EventPlayer(recorded([5.0, 5.0, 5.0]), max_gap=5.0)
    task = asyncio.create_task(player.run())
    await until(lambda: player.position == 1)  # the next is 5 s away
    player.step()
    await until(lambda: player.position == 2)
    assert player.paused
    player.jump_to_end()
    await asyncio.wait_for(task, 1)
    assert player.at_end


async def test_jump_to_the_end_skips_every_wait_even_paused() -> None:
    player = EventPlayer(recorded([30.0] * 50), paused=True, max_gap=30.0)
    changes: list[int] = []
    player.on_change = lambda: changes.append(player.position)
    sub = player.bus.subscribe()
    task = asyncio.create_task(player.run())
    player.jump_to_end()
    await asyncio.wait_for(task, 1)
    assert [e.seq async for e in sub] == list(range(1, 52))
    assert changes[-1] == 51


def test_speed_steps_between_a_quarter_and_64() -> None:
    player = EventPlayer([], speed=1.0)
    for _ in range(20):
        player.faster()
    assert player.speed == SPEEDS[-1] == 64
    for _ in range(20):
        player.slower()
    assert player.speed == SPEEDS[0] == 0.25
    player = EventPlayer([], speed=3.0)  # --speed 3: the next step up is 4
    player.faster()
    assert player.speed == 4.0
    with pytest.raises(ValueError):
        EventPlayer([], speed=0)


async def test_an_empty_recording_ends_at_once() -> None:
    player = EventPlayer([])
    assert await drain(player) == [] and player.current_ts is None
