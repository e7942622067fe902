"""Control command for held network requests (headless, socket, MCP alike):
``{"type": "network", "interrupt": ID, "choice": "once|run|always|deny"}``.  The generic
``answer`` (text = the choice), ``approve`` (once) and ``reject`` (deny) work too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.interrupts import InterruptError
from engine.messaging import USER
from engine.recording import ControlError
from engine.service.commands import Command, command

if TYPE_CHECKING:
    from engine.run import Engine


@command("network")
async def _network(engine: Engine, cmd: Command) -> None:
    try:
        await engine.interrupts.answer(cmd.need("interrupt"), {"choice": cmd.need("choice"), "by": USER})
    except InterruptError as exc:
        raise ControlError(str(exc)) from None
