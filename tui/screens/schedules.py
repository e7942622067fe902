"""The Schedules screen (S): every scheduled agent, its expression in words, its last and
next firing, its last result and its skipped firings; `r` runs one now, `p` pauses or
resumes its schedule (the `schedule_*` control commands, so headless and socket clients
can do the same).

The rows are a pure function of the run's `schedule` events (`RunState.schedules`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine import events as ev
from engine.schedules.spec import describe, in_text, when_text
from engine.schedules.state import COMPLETED, FAILED, ScheduleState
from tui.safe_text import safe_text
from tui.widgets.flex_table import FlexTable

if TYPE_CHECKING:
    from tui.app import ControlCenter

    _Base = ControlCenter
else:
    _Base = object

RESULT_CHARS = 60


def schedule_row(st: ScheduleState, now: float) -> dict[str, Text | str]:
    """One row: the cells of the Schedules table (plain text, never markup)."""
    zone = st.timezone
    if st.paused:
        nxt = Text("paused", style="magenta")
    elif st.next is None:
        nxt = Text("-")
    else:
        nxt = safe_text(f"{when_text(st.next, zone, now)} ({in_text(st.next - now)})")
    last = "-" if st.last_fired is None else f"#{st.firings} {when_text(st.last_fired, zone, now)}"
    if st.in_progress is not None:
        result = Text(f"▶ running firing #{st.in_progress}", style="bold green")
    elif st.last_outcome == COMPLETED:
        result = safe_text(f"✔ {_short(st.last_result)}", style="green")
    elif st.last_outcome == FAILED:
        result = safe_text(f"✖ {_short(st.last_result)}", style="bold red")
    else:
        result = Text("-")
    skipped = str(st.skipped) + (f" +{st.missed} missed" if st.missed else "")
    if st.queued is not None:
        skipped += " (1 queued)"
    return {"agent": safe_text(st.agent), "when": safe_text(describe(st.cron)),
            "cron": safe_text(st.cron), "last": safe_text(last), "next": nxt,
            "result": result, "skipped": safe_text(skipped)}


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= RESULT_CHARS else line[: RESULT_CHARS - 1] + "…"


class SchedulesTable(FlexTable):
    DEFAULT_CSS = """
    SchedulesTable { height: 1fr; border: round $accent; border-title-color: $accent;
                     border-title-style: bold; }
    """
    COLUMNS = (("Agent", "agent", 8), ("When", "when", 12), ("Cron", "cron", 10),
               ("Last firing", "last", 12), ("Next firing", "next", 14),
               ("Last result", "result", 0), ("Skipped", "skipped", 7))
    NARROW_BELOW = 150  # the words say what the expression does; wide screens show both
    NARROW_HIDDEN = frozenset({"cron"})
    FIT = {"agent": 16, "when": 26, "cron": 18, "last": 20, "next": 32, "skipped": 14}


class SchedulesScreen(Screen[None]):
    DEFAULT_CSS = """
    SchedulesScreen #schedules-help { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,S", "close", "Back"),
        Binding("r", "run_now", "Run now"),
        Binding("p", "pause_resume", "Pause/Resume schedule"),
        Binding("question_mark", "app.help", "Help"),
    ]

    def __init__(self, schedules: dict[str, ScheduleState], now: float) -> None:
        super().__init__()
        self.schedules = schedules
        self.now = now

    def compose(self) -> ComposeResult:
        table = SchedulesTable(id="schedules")
        table.border_title = "Schedules"
        yield table
        yield Static("r runs the selected agent's schedule now · p pauses or resumes it · "
                     "times are in each schedule's time zone", id="schedules-help")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows(self.schedules, self.now)
        self.query_one(SchedulesTable).focus()
        self.set_interval(1.0, self._tick)  # "in 4m 10s" counts down between events

    def _tick(self) -> None:
        self.refresh_rows(self.schedules, self.app.schedules_now())

    def refresh_rows(self, schedules: dict[str, ScheduleState], now: float) -> None:
        self.schedules, self.now = schedules, now
        table = self.query_one(SchedulesTable)
        for agent in sorted(schedules):
            table.put_row(agent, schedule_row(schedules[agent], now))

    def selected(self) -> str | None:
        table = self.query_one(SchedulesTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    async def action_run_now(self) -> None:
        agent = self.selected()
        if agent is not None:
            await self.app.schedule_command("schedule_run", agent, f"{agent}: firing now.")

    async def action_pause_resume(self) -> None:
        agent = self.selected()
        if agent is None:
            return
        st = self.schedules[agent]
        if st.paused:
            await self.app.schedule_command("schedule_resume", agent, f"{agent}: schedule resumed.")
        else:
            await self.app.schedule_command("schedule_pause", agent, f"{agent}: schedule paused.")

    def action_close(self) -> None:
        self.dismiss(None)


class ScheduleControls(_Base):
    """The app's side: `S` opens the screen (in the footer once the run has a schedule),
    and each batch of `schedule` events refreshes an open one."""

    def show_schedules_key(self, show: bool) -> None:
        bindings = self._bindings.key_to_bindings
        if any(b.show != show for b in bindings.get("S", [])):
            bindings["S"] = [replace(b, show=show) for b in bindings["S"]]
            self.refresh_bindings()

    def schedules_now(self) -> float:
        """The engine's time (a test's manual clock); an attached client's own clock."""
        now = getattr(self.engine, "now", None)
        return now() if callable(now) else time.time()

    def update_schedules(self, events: list[ev.Event]) -> None:
        if self.state is None or not any(e.type == ev.SCHEDULE for e in events):
            return
        self.show_schedules_key(True)
        for screen in self.screen_stack:
            if isinstance(screen, SchedulesScreen):
                screen.refresh_rows(self.state.schedules, self.schedules_now())

    def action_schedules(self) -> None:
        if self.state is None or not self.state.schedules:
            self.notify("No agent of this team has a schedule.", severity="warning")
            return
        if not isinstance(self.screen, SchedulesScreen):
            self.push_screen(SchedulesScreen(self.state.schedules, self.schedules_now()))

    def palette_commands(self) -> Iterable[SystemCommand]:
        """The app's palette entries, then the schedules' (ids only: never agent prose)."""
        yield from super().palette_commands()
        if self.state is None or self.state.finished or not self.state.schedules:
            return
        yield SystemCommand("Schedules", "every scheduled agent: next firings, results",
                            self.action_schedules)
        for agent, st in sorted(self.state.schedules.items()):
            yield SystemCommand(f"Run {agent}'s schedule now", "one firing, by its overlap policy",
                                lambda a=agent: self.run_worker(self.schedule_command(
                                    "schedule_run", a, f"{a}: firing now.")))
            kind, verb = ("schedule_resume", "Resume") if st.paused else ("schedule_pause", "Pause")
            yield SystemCommand(f"{verb} {agent}'s schedule", f"{verb.lower()} its firings",
                                lambda a=agent, k=kind, v=verb: self.run_worker(self.schedule_command(
                                    k, a, f"{a}: schedule {v.lower()}d.")))

    async def schedule_command(self, kind: str, agent: str, done: str) -> None:
        from engine.recording import ControlError

        if self.engine is None:
            self.notify("The run did not start.", severity="error")
            return
        try:
            outcome = await self.engine.handle_command({"type": kind, "agent": agent})
        except ControlError as exc:
            self.notify(str(exc), title="Not possible", severity="error")
            return
        if outcome == "queued":
            done = f"{agent} is busy: this firing waits and runs as soon as it is free."
        if done:
            self.notify(done, timeout=3)
