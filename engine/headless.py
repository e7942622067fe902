"""Headless mode: events out as JSON lines on stdout, commands in as JSON lines on stdin.

The reader survives any line: stdin is read as bytes (invalid UTF-8 becomes
U+FFFD), a line that is not a command (bad JSON, too deep, too long, a number
of 5,000 digits) is an `error` event, and the next line is read.  Commands read
before the team has started wait for it.  A closed stdout (``| head``) stops
the run quietly (it stays resumable) with the conventional status 141.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from typing import Any, TextIO

from engine import events as ev
from engine.control_chars import visible_controls
from engine.pipes import EXIT_BROKEN_PIPE, stdout_gone
from engine.run import ControlError, Engine, RunAborted
from engine.service.lines import TOO_LONG, TOO_LONG_TEXT, LineSplitter, read_command


def _read_lines(fd: int, put) -> None:
    """Read file descriptor ``fd`` line by line in this thread; ``put(None)`` at its end.

    Raw ``os.read``, not ``sys.stdin``: a thread blocked inside a buffered reader
    holds its lock, and the interpreter's exit then aborts on it.
    """
    splitter = LineSplitter()
    try:
        while chunk := os.read(fd, 65536):
            for line in splitter.feed(chunk):
                put(line)
    except OSError:
        pass
    for line in splitter.end():
        put(line)
    put(None)


def _start_stdin_thread(queue: asyncio.Queue[Any], fd: int | None = None) -> None:
    """Read stdin in a daemon thread (works for pipes, files and terminals alike)."""
    loop = asyncio.get_running_loop()

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone
            pass

    source = sys.stdin.fileno() if fd is None else fd
    threading.Thread(target=_read_lines, args=(source, put), name="stdin-reader",
                     daemon=True).start()


class Headless:
    """The two tasks of a headless run: the event printer and the command reader."""

    def __init__(self, engine: Engine, out: TextIO, stdin: int | None = None) -> None:
        self.engine = engine
        self.out = out
        self.stdin = stdin
        self.sub = engine.bus.subscribe(maxsize=50_000)
        self.stdin_closed = False
        self.stdout_closed = False
        self._told_closed = False

    async def print_events(self) -> None:
        sub = self.sub
        try:
            while True:
                event = await sub.get()
                if event is None:
                    break
                batch = [event, *sub.get_batch()]
                self.out.write("".join(e.to_json() + "\n" for e in batch))
                self.out.flush()
                for e in batch:
                    self._tell_person(e)
        except (BrokenPipeError, ValueError, OSError):  # nobody reads stdout any more
            self.stdout_closed = True
            if self.out is sys.stdout:
                stdout_gone()
            sub.close()  # never hold the engine back (back-pressure) with a dead queue
            asyncio.get_running_loop().create_task(self.engine.stop("stdout closed"))

    def _tell_person(self, e: ev.Event) -> None:
        """What a person must see also goes to stderr."""
        if e.type == ev.NOTICE:
            print(visible_controls(f"agentorch: {e.data.get('level', 'note')}: "
                                   f"{e.data.get('text')}"), file=sys.stderr)
        elif e.type == ev.INTERRUPT and self.stdin_closed and e.data.get("blocking"):
            self._say_stdin_closed()

    def _say_stdin_closed(self) -> None:
        waiting = [i.id for i in self.engine.interrupts.pending() if i.blocking]
        if not waiting or self._told_closed:
            return
        self._told_closed = True
        resume = (f"stop it (Ctrl+C) and answer after "
                  f"`agentorch-tui --resume {self.engine.run_id} --headless`")
        how = (f"answer from `agentorch-tui attach {self.engine.run_id}`, or {resume}"
               if self._attachable() else resume)
        print(f"agentorch: stdin is closed and {', '.join(waiting)} wait for an answer; "
              f"the run goes on: {how}", file=sys.stderr)

    def _attachable(self) -> bool:
        control = self.engine.control
        return control is not None and control.path is not None

    async def read_commands(self) -> None:
        lines: asyncio.Queue[Any] = asyncio.Queue()
        _start_stdin_thread(lines, self.stdin)
        engine = self.engine
        while True:
            line = await lines.get()
            if line is None:
                self.stdin_closed = True
                self._say_stdin_closed()
                return
            if line is not TOO_LONG and not line.strip():
                continue
            await engine.started.wait()  # commands read early wait for the team
            if engine.finished.is_set():
                return
            try:
                await self._one(line)
            except RunAborted:
                return

    async def _one(self, line: Any) -> None:
        engine = self.engine
        if line is TOO_LONG:
            await engine.emit(ev.ERROR, text=TOO_LONG_TEXT)
            return
        shown = line.strip()[:200]
        try:
            await engine.handle_command(read_command(line))
        except RunAborted:
            raise
        except (ValueError, ControlError) as exc:
            await engine.emit(ev.ERROR, text=str(exc), line=shown)
        except Exception as exc:  # a bug: say so, keep reading
            engine.log_exception(None, exc)
            await engine.emit(ev.ERROR, text=f"internal error: {type(exc).__name__}: {exc}",
                              line=shown)


async def run_headless(engine: Engine, out: TextIO = sys.stdout,
                       stdin: int | None = None) -> int:
    """Run until every agent has ended (or a stop); return the exit code."""
    headless = Headless(engine, out, stdin)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, lambda: loop.create_task(engine.stop("signal")))
        except (NotImplementedError, RuntimeError):
            pass
    printer = asyncio.create_task(headless.print_events())
    commands = asyncio.create_task(headless.read_commands())
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
    if headless.stdout_closed:
        return EXIT_BROKEN_PIPE
    for rt in engine.agents.values():
        if rt.status in (ev.FAILED, ev.CANCELLED):
            return 1
    return 0 if status == "finished" else 1
