"""Control commands as a registry: name -> handler(engine, Command).

Each handler validates its own fields through `Command.need` and friends and raises
`ControlError` with a sentence for the person; nothing here trusts the client.
Features register their commands from their own module with ``@command("name")``
(import it in `_load_features` below) instead of growing one if/elif chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from engine.recording import ControlError

if TYPE_CHECKING:
    from engine.run import Engine

Handler = Callable[["Engine", "Command"], Awaitable[Any]]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn
    return register


class Command:
    """One client command: its type and its fields, read with clear errors."""

    def __init__(self, raw: dict, via: str | None = None) -> None:
        self.raw = raw
        self.kind = raw.get("type")
        #: which client sent it (e.g. `attach (pid 42)`), recorded with answers; never
        #: taken from the command itself
        self.via = via

    def need(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value:
            raise ControlError(f"command {self.kind!r} needs a string field {key!r}")
        return value

    def text(self, key: str = "text") -> str:
        value = self.raw.get(key)
        return value if isinstance(value, str) else ""

    def optional(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) and value else None

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


async def dispatch(engine: Engine, raw: Any, via: str | None = None) -> Any:
    """Run one command against ``engine``. Raises ControlError for anything wrong.

    ``via`` names the client it came from (the control socket's peer), or None for
    the process's own person (keys of the embedded TUI, headless stdin)."""
    if not isinstance(raw, dict):
        raise ControlError("a command must be a JSON object with a `type`")
    cmd = Command(raw, via)
    handler = COMMANDS.get(cmd.kind) if isinstance(cmd.kind, str) else None
    if handler is None:
        names = sorted(COMMANDS)
        raise ControlError(f"unknown command type {cmd.kind!r}; use "
                           f"{', '.join(names[:-1])} or {names[-1]}")
    return await handler(engine, cmd)


@command("answer")
async def _answer(engine: Engine, cmd: Command) -> None:
    await engine.answer(cmd.need("interrupt"), cmd.text(), via=cmd.via)


@command("approve")
async def _approve(engine: Engine, cmd: Command) -> None:
    steps = cmd.get("steps")
    await engine.approve(cmd.need("interrupt"), steps if isinstance(steps, list) else None,
                         limit_tokens=cmd.get("limit_tokens"),
                         limit_dollars=cmd.get("limit_dollars"), text=cmd.text() or None,
                         via=cmd.via)


@command("reject")
async def _reject(engine: Engine, cmd: Command) -> None:
    await engine.reject(cmd.need("interrupt"), cmd.text(), via=cmd.via)


@command("ack")
async def _ack(engine: Engine, cmd: Command) -> None:
    await engine.acknowledge(cmd.need("interrupt"), via=cmd.via)


@command("message")
async def _message(engine: Engine, cmd: Command) -> None:
    await engine.send_user_message(cmd.need("to"), cmd.need("text"))


@command("pause")
async def _pause(engine: Engine, cmd: Command) -> None:
    await engine.pause(cmd.need("agent"))


@command("resume")
async def _resume(engine: Engine, cmd: Command) -> None:
    await engine.resume(cmd.need("agent"))


@command("cancel")
async def _cancel(engine: Engine, cmd: Command) -> None:
    await engine.cancel(cmd.need("agent"))


@command("stop")
async def _stop(engine: Engine, cmd: Command) -> None:
    asyncio.get_running_loop().create_task(engine.stop())


@command("merge")
async def _merge(engine: Engine, cmd: Command) -> str:
    if engine.workspaces is None:
        raise ControlError("merge needs a team with `repo:` (agents work on a clone of it)")
    agent = cmd.need("agent")
    engine._agent(agent)
    return await engine.workspaces.merge(agent, bool(cmd.get("squash")), cmd.optional("into"),
                                         cmd.optional("how"))


@command("rollback")
async def _rollback(engine: Engine, cmd: Command) -> None:
    await engine.rollback(cmd.need("agent"), cmd.need("checkpoint"))


def _load_features() -> None:
    """Modules that register more commands (task board, network, schedules...)."""
    import engine.network_commands  # noqa: F401
    import engine.schedules.commands  # noqa: F401 - registers schedule_run/pause/resume
    import engine.service.mcp_commands  # noqa: F401 - agents, send_to_agent, ... (mcp)
    import engine.shared_context  # noqa: F401  (the `shared_context` command)
    import engine.workflow.commands  # noqa: F401 - registers `task`
    import engine.workspace_review  # noqa: F401 - discard
    from engine.service import views  # noqa: F401 - registers hello-time views (state, memory)


_load_features()
