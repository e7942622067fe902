"""Telling the person that an agent is blocked on them.

When an agent starts waiting on the person (a question, a debug request, a plan or
command approval, a full disk, a budget), the `Notifier` rings the terminal bell (the
TUI gives it its bell) and, as configured (`notify:` in the team file or `--notify`):

- `bell` (default): the bell only;
- `desktop`: also a desktop notification through `notify-send`, where it is installed;
- `{command: [prog, arg, ...]}`: also runs that program with the agent and the
  question appended as two more arguments, and a JSON object on its stdin
  (`agent`, `kind`, `interrupt`, `text`).  Never a shell: agent text is hostile;
- `quiet`: nothing at all.

Once per interrupt, never for progress reports (they block nobody).  Programs run in
the background with a time limit; one that cannot start is reported once.
No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import Callable
from typing import Any

from engine.control_chars import visible_controls

COMMAND_TIMEOUT = 10.0  # seconds a notification program may take
MAX_TEXT = 1000  # characters of the question passed on (a notification, not a transcript)
LABELS = {"user_input": "a question", "debug_request": "debug help",
          "plan_approval": "plan approval", "command_approval": "command approval",
          "budget": "a budget decision", "disk": "a full disk", "network": "a network request"}


def describe(setting: Any) -> str:
    """The setting in words (for `check` and errors)."""
    if isinstance(setting, str):
        return setting
    command = getattr(setting, "command", None)
    return f"command {command!r}" if command else "bell"


class Notifier:
    def __init__(self, setting: Any = "bell", *, which: Callable[[str], str | None] = shutil.which
                 ) -> None:
        self.setting = setting
        self.bell: Callable[[], None] | None = None  #: the TUI's terminal bell
        self.on_error: Callable[[str], None] | None = None  #: where a failure is said
        self._which = which
        self._told: set[str] = set()
        self._failed = False
        self._tasks: set[asyncio.Task] = set()

    @property
    def quiet(self) -> bool:
        return self.setting == "quiet"

    def blocked(self, interrupt_id: str, agent: str, kind: str, text: str) -> None:
        """``agent`` now waits on the person for ``interrupt_id``: tell them, once."""
        if self.quiet or interrupt_id in self._told:
            return
        self._told.add(interrupt_id)
        if self.bell is not None:
            self.bell()
        argv = self._program(agent, kind, text)
        if argv is None:
            return
        payload = json.dumps({"agent": agent, "kind": kind, "interrupt": interrupt_id,
                              "text": text[:MAX_TEXT]}, ensure_ascii=True) + "\n"
        task = asyncio.get_running_loop().create_task(self._run(argv, payload.encode()),
                                                      name=f"notify-{interrupt_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _program(self, agent: str, kind: str, text: str) -> list[str] | None:
        short = text[:MAX_TEXT]
        if self.setting == "desktop":
            program = self._which("notify-send")
            if program is None:
                self._fail("notify: desktop needs notify-send (libnotify-bin); only the bell "
                           "rings")
                return None
            title = f"{agent} waits for you: {LABELS.get(kind, kind)}"
            # notify-send reads markup in the body: the agent's text is shown as typed
            body = visible_controls(short).replace("&", "&amp;").replace("<", "&lt;")
            return [program, "--app-name=agentorch", "--", title, body]
        command = getattr(self.setting, "command", None)
        if command:
            return [*command, agent, short]
        return None

    async def _run(self, argv: list[str], stdin: bytes) -> None:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self._fail(f"notify: cannot run {argv[0]!r}: {exc.strerror or exc}")
            return
        try:
            await asyncio.wait_for(proc.communicate(stdin), COMMAND_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            if isinstance(exc, asyncio.CancelledError):
                raise
            self._fail(f"notify: {argv[0]!r} took longer than {COMMAND_TIMEOUT:g}s; stopped it")

    def _fail(self, text: str) -> None:
        if not self._failed:
            self._failed = True
            if self.on_error is not None:
                self.on_error(text)

    async def close(self, grace: float = 2.0) -> None:
        """Let running notification programs finish for ``grace`` seconds, then stop them:
        none outlives the run."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
