"""Headless mode: events out as JSON lines on stdout, commands in as JSON lines on stdin."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from typing import TextIO

from engine import events as ev
from engine.control_chars import visible_controls
from engine.numbers import NumberError, parse_command
from engine.run import ControlError, Engine, RunAborted


def _start_stdin_thread(queue: asyncio.Queue[str | None]) -> None:
    """Read stdin in a daemon thread (works for pipes, files and terminals alike)."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is gone
            pass

    threading.Thread(target=pump, name="stdin-reader", daemon=True).start()


async def run_headless(engine: Engine, out: TextIO = sys.stdout) -> int:
    """Run until every agent has ended (or a stop); return the exit code."""
    sub = engine.bus.subscribe(maxsize=50_000)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, lambda: loop.create_task(engine.stop("signal")))
        except (NotImplementedError, RuntimeError):
            pass

    async def print_events() -> None:
        while True:
            event = await sub.get()
            if event is None:
                break
            batch = [event, *sub.get_batch()]
            out.write("".join(e.to_json() + "\n" for e in batch))
            out.flush()
            for e in batch:  # what a person must see also goes to stderr
                if e.type == ev.NOTICE:
                    print(visible_controls(f"agentorch: {e.data.get('level', 'note')}: "
                                           f"{e.data.get('text')}"), file=sys.stderr)

    async def read_commands() -> None:
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        _start_stdin_thread(lines)
        while True:
            line = await lines.get()
            if line is None:
                return
            if not line.strip():
                continue
            try:
                cmd = parse_command(line)
                await engine.handle_command(cmd)
            except RunAborted:
                return
            except json.JSONDecodeError as exc:
                await engine.emit(ev.ERROR, text=f"malformed command line (not JSON: {exc.msg})",
                                  line=line.strip()[:200])
            except (ControlError, NumberError) as exc:
                await engine.emit(ev.ERROR, text=str(exc), line=line.strip()[:200])

    printer = asyncio.create_task(print_events())
    commands = asyncio.create_task(read_commands())
    try:
        await engine.start()
    except RunAborted:
        pass  # the store failed while starting: the engine ends the run
    status = await engine.wait()
    await printer
    commands.cancel()
    if engine.store.failure is not None:
        print(f"agentorch: {engine.failure_text()}", file=sys.stderr)
        return 1
    for rt in engine.agents.values():
        if rt.status in (ev.FAILED, ev.CANCELLED):
            return 1
    return 0 if status == "finished" else 1
