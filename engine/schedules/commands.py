"""Control commands of schedules (headless JSON lines, the socket, the Schedules screen):
`schedule_run`, `schedule_pause`, `schedule_resume`, each with an `agent`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.recording import ControlError
from engine.schedules.scheduler import Scheduler, ScheduleRefused
from engine.service.commands import Command, command

if TYPE_CHECKING:
    from engine.run import Engine


def _scheduler(engine: Engine) -> Scheduler:
    if engine.scheduler is None:
        raise ControlError("no agent of this team has a `schedule:`")
    if not engine.started.is_set() or engine.finished.is_set():
        raise ControlError("the run is not running: schedules act only while it runs")
    return engine.scheduler


@command("schedule_run")
async def _run_now(engine: Engine, cmd: Command) -> str:
    try:
        return await _scheduler(engine).run_now(cmd.need("agent"))
    except ScheduleRefused as exc:
        raise ControlError(str(exc)) from None


@command("schedule_pause")
async def _pause(engine: Engine, cmd: Command) -> None:
    try:
        await _scheduler(engine).pause(cmd.need("agent"))
    except ScheduleRefused as exc:
        raise ControlError(str(exc)) from None


@command("schedule_resume")
async def _resume(engine: Engine, cmd: Command) -> None:
    try:
        await _scheduler(engine).resume(cmd.need("agent"))
    except ScheduleRefused as exc:
        raise ControlError(str(exc)) from None
