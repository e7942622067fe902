"""Waiting with a timeout without losing a cancellation.

On Python 3.11, ``asyncio.wait_for`` can swallow a cancellation that arrives in
the same loop iteration as the awaited result (CPython gh-86296): a cancelled
agent would then go on.  ``asyncio.wait`` has no such race, so every engine
wait that must honour cancel goes through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(aw: Awaitable[T], timeout: float | None) -> T:
    """The result of ``aw``, or TimeoutError after ``timeout`` seconds (None: no limit).

    On timeout or cancellation ``aw`` is left as it is (callers own its clean-up:
    a reply future is forgotten, a command is killed).
    """
    fut = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({fut}, timeout=timeout)
    if not done:
        raise TimeoutError
    return fut.result()
