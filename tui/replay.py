"""`agentorch-tui replay RUN_ID`: the control center, read-only, on a past run.

An `EventPlayer` (engine/replay.py) publishes the run's stored events onto its own
bus; the same `EngineBridge` folds them into the same `RunState`, so every panel
shows what it showed then.  There is no engine: keys that would act on one are
refused with a notification; the player's keys (space, n, +, -, G) drive playback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from engine.events import Event
from engine.replay import EventPlayer, team_of_run
from tui.app import ControlCenter
from tui.screens.agent_detail import AgentDetail, AgentDetailScreen
from tui.screens.help import REPLAY_KEYS, HelpScreen
from tui.state import InterruptView
from tui.widgets.player_bar import PlayerBar

if TYPE_CHECKING:
    from engine.config import TeamConfig

READ_ONLY = "Read-only replay"


async def _no_engine():  # pragma: no cover - a replay never opens an engine
    raise RuntimeError("a replay has no engine")


class ReplayCenter(ControlCenter, inherit_bindings=False):
    """The control center over an `EventPlayer` instead of an engine.

    Its own key list (not inherited): the player's keys first in the footer; the keys
    that would act on an engine are kept, hidden, to say why they do nothing."""

    live = False
    SPEED = Binding.Group("Speed", compact=True)
    BINDINGS = [
        Binding("space", "play_pause", "Play/Pause"),
        Binding("n", "step", "Step"),
        Binding("full_stop", "step", "Step", show=False),
        Binding("plus", "faster", "Faster", group=SPEED),
        Binding("equals_sign", "faster", "Faster", show=False),
        Binding("minus", "slower", "Slower", group=SPEED),
        Binding("G", "to_end", "End"),
        Binding("end", "to_end", "End", show=False, priority=True),
        Binding("d", "detail", "Detail", show=False),
        Binding("b", "toggle_board", "Board"),  # shown once the run has a workflow
        Binding("B", "board_screen", "Board full screen", show=False),
        Binding("q", "request_quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True),
        Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True),
        Binding("i", "focus_interrupts", "Interrupts", show=False),
        Binding("m", "message", "Message", show=False),
        Binding("p", "pause_resume", "Pause/Resume", show=False),
        Binding("x", "cancel_agent", "Cancel", show=False),
        Binding("s", "shell", "Shell", show=False),
    ]

    def __init__(self, player: EventPlayer, run: dict[str, Any],
                 team: TeamConfig | None = None, **kwargs: Any) -> None:
        super().__init__(_no_engine, **kwargs)
        self.player = player
        self.recorded_run = run
        self.run_team = team
        self._player_task: asyncio.Task | None = None
        self._bar_due = False

    def compose_bottom(self) -> ComposeResult:
        with Horizontal(id="bottom"):
            yield PlayerBar(id="player")
            yield Footer(show_command_palette=False)

    async def open_run(self) -> None:
        run = self.recorded_run
        types = {a.id: a.type or "" for a in self.run_team.agents} if self.run_team else {}
        agents = [(a, types.get(a, "")) for a in json.loads(run.get("agents") or "[]")]
        self.attach(self.player.bus, run.get("team") or "", run["id"], agents)
        assert self.state is not None
        self.selected_agent = next(iter(self.state.agents), None)
        self.player.on_change = self._player_changed
        self._player_task = asyncio.create_task(self.player.run(), name="replay-player")
        self.started.set()
        self._show_player()

    # -- the player --------------------------------------------------------------------
    def _player_changed(self) -> None:
        """Many events a second may change the player: redraw its bar once per batch."""
        if not self._bar_due:
            self._bar_due = True
            self.call_later(self._show_player)

    def _show_player(self) -> None:
        self._bar_due = False
        if not self._panels_gone():
            self.query_one(PlayerBar).show(self.player)

    def action_play_pause(self) -> None:
        if self.player.at_end:
            self.notify("The replay is at the end of the run.", timeout=3)
        self.player.toggle()

    def action_step(self) -> None:
        self.player.step()

    def action_faster(self) -> None:
        self.player.faster()

    def action_slower(self) -> None:
        self.player.slower()

    def action_to_end(self) -> None:
        self.player.jump_to_end()

    # -- what a replay cannot do -------------------------------------------------------
    def refuse(self, what: str) -> None:
        self.notify(f"{READ_ONLY}: {what} would act on a live run. To continue this run, "
                    f"quit and use `agentorch-tui --resume {self.recorded_run['id']}`.",
                    title=READ_ONLY, severity="warning", timeout=5)

    def open_interrupt(self, intr: InterruptView, action: str = "open") -> None:
        verb = {"approve": "approving", "reject": "rejecting"}.get(action, "answering")
        self.refuse(f"{verb} {intr.id}")

    def action_message(self, agent: str | None = None) -> None:
        self.refuse("messaging an agent")

    async def action_pause_resume(self, agent: str | None = None) -> None:
        self.refuse("pausing or resuming an agent")

    def action_cancel_agent(self, agent: str | None = None) -> None:
        self.refuse("cancelling an agent")

    def action_shell(self, agent: str | None = None) -> None:
        self.refuse("opening a shell in a sandbox")

    def action_detail(self, agent: str | None = None) -> None:
        target = agent or self.selected_agent
        if target is None or self.state is None:
            return
        team = self.run_team
        config = team.agent(target) if team is not None and team.has_agent(target) else None
        if config is None:
            self.notify(f"The team file of run {self.recorded_run['id']} cannot be read, so "
                        "there are no details to show.", severity="warning")
            return
        self.push_screen(AgentDetailScreen(AgentDetail(self.state.agents[target], config, "")))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(REPLAY_KEYS))

    async def action_request_quit(self) -> None:
        await self.quit_now()  # nothing runs: nothing to ask

    def exit_code(self) -> int:
        return 0  # watching a failed run is not a failure

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Play or pause", "space", self.action_play_pause)
        yield SystemCommand("Step one event", "n", self.action_step)
        yield SystemCommand("Faster", "+", self.action_faster)
        yield SystemCommand("Slower", "-", self.action_slower)
        yield SystemCommand("Jump to the end", "G", self.action_to_end)
        if self.state is not None:
            for agent in self.state.agents:
                yield SystemCommand(f"Details of {agent}", "config, tool calls, usage",
                                    lambda a=agent: self.action_detail(a))
        yield SystemCommand("Keys", "every key of the replay", self.action_help)
        yield SystemCommand("Quit", "q", lambda: self.run_worker(self.quit_now()))

    # -- shutting down -------------------------------------------------------------------
    async def shutdown_engine(self) -> None:
        task, self._player_task = self._player_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await super().shutdown_engine()


def make_replay_app(run: dict[str, Any], events: list[Event], *, speed: float = 1.0,
                    paused: bool = False, team: TeamConfig | None = None,
                    **kwargs: Any) -> ReplayCenter:
    player = EventPlayer(events, speed=speed, paused=paused)
    return ReplayCenter(player, run, team if team is not None else team_of_run(run), **kwargs)


def run_replay(run: dict[str, Any], events: list[Event], args) -> int:
    """`agentorch-tui replay RUN_ID`: play ``events`` of ``run`` in the control center."""
    app = make_replay_app(run, events, speed=args.speed, paused=args.paused)
    asyncio.run(_run(app))
    return app.return_code or 0  # 1 only when the app itself crashed


async def _run(app: ReplayCenter) -> None:
    try:
        await app.run_async()
    finally:
        await app.shutdown_engine()
