"""The control center: a Textual app over the engine.  Thin: compose, bindings, routing.

`make_app(engine_factory)` is used by the command line (`run_app`) and by the tests;
the factory opens the engine inside the app's event loop.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine import events as ev
from engine.bus import EventBus
from engine.control_chars import visible_controls
from tui.board_controls import BoardControls
from tui.bridge import FLUSH_INTERVAL, ConsoleLinesReady, EngineBridge, EventsApplied, RunEnded
from tui.console_buffers import DEFAULT_SCROLLBACK, ConsoleBuffers
from tui.controls import Controls
from tui.presentation import finished_text
from tui.screens.schedules import ScheduleControls
from tui.state import RunState
from tui.widgets.agents_panel import AgentsPanel
from tui.widgets.board_panel import BoardPanel
from tui.widgets.console_panel import ConsolePanel
from tui.widgets.interrupts_panel import InterruptsPanel
from tui.widgets.messages_panel import MessagesPanel
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from engine.run import Engine
    from memory.store import Store

EngineFactory = Callable[[], Awaitable["tuple[Engine, Store | None]"]]


class ControlCenter(ScheduleControls, BoardControls, Controls, App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "agentorch"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("b", "toggle_board", "Board"),  # shown once the run has a workflow
        Binding("B", "board_screen", "Board full screen", show=False),
        Binding("S", "schedules", "Schedules", show=False),  # shown once a schedule is armed
        Binding("m", "message", "Message"),
        Binding("p", "pause_resume", "Pause"),
        Binding("x", "cancel_agent", "Cancel"),
        Binding("d", "detail", "Detail"),
        Binding("v", "changes", "Changes"),
        Binding("s", "shell", "Shell", show=False),
        Binding("n", "next_interrupt", "Waiting"),
        Binding("i", "focus_interrupts", "Interrupts", show=False),
        Binding("ctrl+d", "detach", "Detach", show=False),
    ]
    selected_agent: reactive[str | None] = reactive(None)
    live = True  #: an engine runs behind the panels (a replay is not live)

    def __init__(self, engine_factory: EngineFactory, *, flush_interval: float = FLUSH_INTERVAL,
                 scrollback: int = DEFAULT_SCROLLBACK, signals: bool = False,
                 blink_cursors: bool = True) -> None:
        super().__init__()
        self.blink_cursors = blink_cursors
        self.engine_factory = engine_factory
        self.flush_interval = flush_interval
        self.scrollback = scrollback
        self.handle_signals = signals
        self.engine: Engine | None = None
        self.store: Store | None = None
        self.state: RunState | None = None
        self.consoles = ConsoleBuffers(scrollback)
        self.bridge: EngineBridge | None = None
        self._bridge_task: asyncio.Task | None = None
        self.start_error: str | None = None
        self.started = asyncio.Event()
        self._quitting = False

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield AgentsPanel(id="agents")
        yield BoardPanel(id="board")  # in place of the agents: b
        with Horizontal(id="lower"):
            yield ConsolePanel(self.scrollback, id="console")
            with Vertical(id="side"):
                yield InterruptsPanel(id="interrupts")
                yield MessagesPanel(id="messages")
        yield Static(id="banner")
        yield from self.compose_bottom()

    def compose_bottom(self) -> ComposeResult:
        yield Footer()

    async def on_mount(self) -> None:
        self.show_board_key(False)
        await self.open_run()

    async def open_run(self) -> None:
        """Open the engine, show the panels (and a resumed run's history), start it."""
        from engine.resume import ResumeError
        from memory.store import StoreError

        try:
            self.engine, self.store = await self.engine_factory()
        except (StoreError, ResumeError) as exc:
            self.start_error = str(exc)
            self.started.set()
            self.push_screen(self.start_failed_screen(self.start_error))
            return
        engine = self.engine
        engine.notifier.bell = self.bell  # an agent waits for the person: ring
        engine.notifier.on_error = lambda text: self.notify(text, severity="warning")
        self.attach(engine.bus, engine.team.name, engine.run_id,
                    [(a.id, a.type or "") for a in engine.team.agents])
        if engine.pending_resume is not None:
            await self._show_history()
        self.selected_agent = next(iter(self.state.agents), None)
        if self.handle_signals:
            self._install_signal_handlers()
        self.run_worker(self._start_engine(), name="engine-start", exit_on_error=False)

    def attach(self, bus: EventBus, team: str, run_id: str, agents: list[tuple[str, str]]
               ) -> None:
        """Make the run state and the bridge that feeds it from ``bus``; fill the panels."""
        self.sub_title = visible_controls(team)
        self.state = RunState(team, run_id, agents)
        self.bridge = EngineBridge(bus, self.state, self.consoles, self, self.flush_interval)
        self._bridge_task = asyncio.create_task(self.bridge.run(), name="tui-bridge")
        panel = self.query_one(AgentsPanel)
        for view in self.state.agents.values():
            panel.upsert(view)
        self.query_one(StatusBar).show(self.state)
        panel.focus()

    async def _show_history(self) -> None:
        """A resumed run: fold what happened before it stopped, so every panel shows it."""
        assert self.store is not None and self.engine is not None and self.bridge is not None
        rows = await self.store.events(self.engine.run_id)
        self.bridge.fold_history([ev.Event.from_row(*row) for row in rows])

    async def _start_engine(self) -> None:
        from engine.brains.base import BrainError
        from engine.run import ControlError
        from sandboxes import SandboxError

        assert self.engine is not None and self.state is not None
        try:
            await self.engine.start()
        except (SandboxError, BrainError) as exc:
            self.start_error = str(exc)
            self.push_screen(self.start_failed_screen(self.start_error))
        except ControlError:  # the store failed while starting: its error event shows it
            pass
        except Exception as exc:  # a bug: never a screen that says `running` forever
            self.engine.log_exception(None, exc)
            self.start_error = f"internal error while starting: {type(exc).__name__}: {exc}"
            self.push_screen(self.start_failed_screen(self.start_error))
        else:
            agents = self.query_one(AgentsPanel)
            for agent_id, rt in self.engine.agents.items():
                view = self.state.agents.get(agent_id)
                if view is not None:
                    view.sandbox = rt.sandbox.label
                    agents.upsert(view)
        finally:
            self.started.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        from tui.hangup import hang_up

        handlers = {signal.SIGTERM: self.quit_now, signal.SIGHUP: lambda: hang_up(self)}
        for sig, handler in handlers.items():
            try:
                loop.add_signal_handler(sig, lambda h=handler: asyncio.ensure_future(h()))
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast (the app's, a screen's, a widget's) is plain text: a toast often
        quotes an agent, a model or a command, so it is never markup and its control
        characters are visible.  ``markup`` is ignored."""
        super().notify(visible_controls(str(message)), title=visible_controls(str(title)),
                       severity=severity, timeout=timeout, markup=False)

    # -- engine events -> widgets -------------------------------------------------
    def _panels_gone(self) -> bool:
        """True while the app shuts down: the engine's last events find no widgets."""
        return not self.is_running or not self.screen_stack or not self.query(AgentsPanel)

    def on_events_applied(self, message: EventsApplied) -> None:
        state = self.state
        if state is None or self._panels_gone():
            return
        agents = self.query_one(AgentsPanel)
        interrupts = self.query_one(InterruptsPanel)
        messages = self.query_one(MessagesPanel)
        touched: set[str] = set()
        for event in message.events:
            if event.agent:
                touched.add(event.agent)
            if event.type == ev.NOTICE and isinstance(event.data.get("overlap"), list):
                touched.update(agents.mark_overlap(event.data["overlap"]))
            if event.type == ev.MESSAGE:
                msg = state.message(event.data.get("id", ""))
                if msg is not None:
                    messages.add_message(msg)
            elif event.type == ev.INTERRUPT:
                intr = state.interrupts.get(event.data.get("id", ""))
                if intr is not None:
                    interrupts.add_interrupt(intr)
                    if intr.blocking and self.live and not message.history:
                        self.announce_blocked(intr)
            elif event.type == ev.INTERRUPT_ANSWERED:
                interrupts.remove_interrupt(event.data.get("id", ""))
                if not message.history:
                    self.close_dialog_of(event.data.get("id", ""), event.data.get("answer"))
            elif event.type == ev.RUN_STARTED:  # also a resumed run going on after a stop
                touched.update(state.agents)
                self.query_one("#banner", Static).remove_class("-shown", "-bad")
            elif event.type == ev.RUN_FINISHED:
                touched.update(state.agents)
                self._show_finished()
            elif message.history:
                continue
            elif event.type == ev.NOTICE and (event.data.get("unsandboxed")
                                              or event.data.get("takeover")):
                continue  # the status bar says LOCAL · UNSANDBOXED all along
            elif event.type in (ev.NOTICE, ev.BUDGET_WARNING, ev.BUDGET_RESET, ev.ERROR):
                level = event.data.get("level", "warning" if event.type != ev.ERROR else "error")
                self.notify(str(event.data.get("text", event.type)),
                            severity="error" if level == "error" else "warning", timeout=10)
        for agent_id in touched:
            view = state.agents.get(agent_id)
            if view is not None:
                agents.upsert(view)
        self.update_boards(message.events, message.history)
        if not message.history and any(e.type == ev.CHECKPOINT for e in message.events):
            from tui.screens.diff import DiffScreen  # an open diff screen says it is behind

            for screen in self.screen_stack:
                if isinstance(screen, DiffScreen):
                    screen.checkpoints_arrived({e.agent for e in message.events
                                                if e.type == ev.CHECKPOINT})
        self.update_schedules(message.events)
        self.query_one(StatusBar).show(state)

    def on_console_lines_ready(self, message: ConsoleLinesReady) -> None:
        if self._panels_gone():
            return
        console = self.query_one(ConsolePanel)
        if message.agent == console.agent:
            console.append(message.lines, message.missed)

    def on_run_ended(self, message: RunEnded) -> None:
        if self.state is not None and not self._panels_gone():
            self.query_one(StatusBar).show(self.state)

    def _show_finished(self) -> None:
        assert self.state is not None
        banner = self.query_one("#banner", Static)
        banner.update(finished_text(self.state))
        banner.add_class("-shown")
        if self.state.run_status != "finished" or self.state.counts()["failed"]:
            banner.add_class("-bad")

    # -- selection ------------------------------------------------------------------
    def watch_selected_agent(self, agent: str | None) -> None:
        if self.bridge is None:
            return
        lines = self.bridge.show(agent)
        total = self.consoles.of(agent).total if agent is not None else 0
        self.query_one(ConsolePanel).show_agent(agent, lines, total)
        messages = self.query_one(MessagesPanel)
        if messages.filter_agent is not None and agent is not None:
            messages.set_filter(agent)

    def on_agents_panel_agent_highlighted(self, message: AgentsPanel.AgentHighlighted) -> None:
        self.selected_agent = message.agent

    def on_agents_panel_agent_chosen(self, message: AgentsPanel.AgentChosen) -> None:
        self.selected_agent = message.agent
        self.action_detail()

    def on_messages_panel_filter_toggled(self, message: MessagesPanel.FilterToggled) -> None:
        messages = self.query_one(MessagesPanel)
        messages.set_filter(None if messages.filter_agent else self.selected_agent)

    def on_messages_panel_message_opened(self, message: MessagesPanel.MessageOpened) -> None:
        self.open_message(message.message)

    def on_interrupts_panel_interrupt_opened(self, message: InterruptsPanel.InterruptOpened
                                             ) -> None:
        self.open_interrupt(message.interrupt, message.action)

    def action_changes(self, agent: str | None = None) -> None:
        """The diff screen of the selected agent (tui/screens/diff.py)."""
        from tui.screens.diff import open_changes

        open_changes(self, agent or self._target())

    def action_detach(self) -> None:
        """Only an attached control center can leave its run going (tui/remote_app.py)."""
        self.notify("This control center runs the engine itself: leaving it stops the run. "
                    "Start a team with `agentorch-tui start` to detach and attach at will.",
                    severity="warning", timeout=8)

    def action_focus_interrupts(self) -> None:
        self.query_one(InterruptsPanel).focus()

    def action_next_interrupt(self) -> None:
        """Highlight the oldest interrupt an agent is blocked on (the next one on repeat)."""
        panel = self.query_one(InterruptsPanel)
        intr = panel.next_blocking()
        panel.focus()
        if intr is None:
            self.notify("No agent waits for you.", timeout=3)
            return
        panel.select(intr.id)

    # -- command palette --------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Quit"):  # ours: our help, the clean quit
                yield command
        yield from self.palette_commands()
        yield from self.board_commands()

    # -- shutting down ------------------------------------------------------------------
    async def shutdown_engine(self) -> None:
        """Stop the run (agents cancelled, sandboxes stopped, state recorded). Idempotent."""
        engine = self.engine
        if engine is not None and not engine.finished.is_set():
            if self.start_error is None:  # still starting: let start finish, then stop it all
                await self.started.wait()
            await engine.stop("stopped from the control center")
        if self._bridge_task is not None:
            try:
                await asyncio.wait_for(self._bridge_task, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._bridge_task.cancel()
            self._bridge_task = None
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()

    async def on_unmount(self) -> None:
        await self.shutdown_engine()

    def exit_code(self) -> int:
        if self.start_error is not None:
            return 1
        if self.state is not None and self.state.counts()["failed"]:
            return 1
        return 0


def make_app(engine_factory: EngineFactory, **kwargs: Any) -> ControlCenter:
    return ControlCenter(engine_factory, **kwargs)


def run_app(team, config_path: str, args) -> int:
    """`agentorch-tui [CONFIG]`: open the control center on ``team``; the exit code."""
    return asyncio.run(_run(team, config_path, args))


async def _run(team, config_path: str, args) -> int:
    from engine.cli import open_engine

    async def factory():
        return await open_engine(team, config_path, args)

    app = make_app(factory, signals=True)
    try:
        await app.run_async()
    finally:
        await app.shutdown_engine()
    if app.start_error:
        print(f"agentorch: {visible_controls(app.start_error)}", file=sys.stderr)
    if app.engine is not None and app.engine.failure_text():  # the store stopped the run
        print(f"agentorch: {visible_controls(app.engine.failure_text())}", file=sys.stderr)
        return 1
    return app.exit_code()
