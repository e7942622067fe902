"""What the keys and the command palette do: the control center's actions.

A mixin of the app, so `app.py` stays about layout and routing.  Every engine call
goes through `_control`, which shows a refused command as one clear notification.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from engine import events as ev
from tui.decisions import Decision, carry_out
from tui.presentation import interrupt_kind
from tui.screens.agent_detail import AgentDetail, AgentDetailScreen
from tui.screens.command import fully_shown_in_the_list
from tui.screens.compose import ComposeScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.dialog import InterruptDialog
from tui.screens.error import StartFailedScreen
from tui.screens.help import HelpScreen
from tui.screens.message import MessageScreen
from tui.screens.routing import screen_for
from tui.state import AgentView, InterruptView, MessageView

if TYPE_CHECKING:
    from tui.app import ControlCenter

    _Base = ControlCenter
else:
    _Base = object


class Controls(_Base):
    # -- helpers ------------------------------------------------------------------------
    async def _control(self, call: Awaitable[object], done: str | None = None) -> bool:
        """Run one engine control call; a refusal becomes an error toast, success a short one."""
        from engine.run import ControlError

        try:
            await call
        except ControlError as exc:
            self.notify(str(exc), title="Not possible", severity="error")
            return False
        if done:
            self.notify(done, timeout=3)
        return True

    def _target(self) -> str | None:
        if self.engine is None or self.state is None or self.start_error:
            self.notify("The run did not start.", severity="error")
            return None
        if self.selected_agent is None:
            self.notify("Select an agent first (Agents panel).", severity="warning")
        return self.selected_agent

    def start_failed_screen(self, text: str) -> StartFailedScreen:
        return StartFailedScreen(text)

    # -- interrupts ------------------------------------------------------------------------
    def open_interrupt(self, intr: InterruptView, action: str = "open") -> None:
        if action == "approve" and fully_shown_in_the_list(intr):
            self.run_worker(self._decided(Decision(intr.id, "approve"), intr))
            return
        if action == "approve":
            self.notify("Read all of it first: press a in the dialog to approve.",
                        severity="warning")
        mode = "reject" if action == "reject" else "view"

        async def decided(decision: Decision | None) -> None:
            if decision is not None:
                await self._decided(decision, intr)

        self.push_screen(screen_for(intr, mode, self.state), decided)

    def announce_blocked(self, intr: InterruptView) -> None:
        """A toast naming the interrupt and the key that reaches it."""
        waiting = sum(1 for i in self.state.interrupts.values() if i.blocking) if self.state else 1
        where = f"{waiting} waiting, n goes to the oldest" if waiting > 1 else "n goes to it"
        self.notify(f"{intr.agent} waits for you: {interrupt_kind(intr.kind)} {intr.id} · {where}",
                    severity="warning", timeout=6)

    def close_dialog_of(self, interrupt_id: str, answer: object) -> None:
        """The interrupt of the open dialog was answered elsewhere, expired or was
        withdrawn: close the dialog, say why, and offer what was typed as a message."""
        screen = self.screen
        if not isinstance(screen, InterruptDialog) or screen.interrupt.id != interrupt_id:
            return
        intr = screen.interrupt
        typed = screen.typed_text()
        screen.dismiss(None)
        why = _why_gone(answer if isinstance(answer, dict) else {})
        self.notify(f"{intr.id} ({intr.agent}'s {interrupt_kind(intr.kind)}) {why}; "
                    "its dialog was closed." + (" What you typed is kept as a message." if typed else ""),
                    severity="warning", timeout=8)
        if typed and intr.agent in (self.state.agents if self.state else {}):
            self.action_message(intr.agent, typed,
                                f"{intr.id} {why}: send what you typed to {intr.agent} "
                                "as a message?")

    async def _decided(self, decision: Decision, intr: InterruptView) -> None:
        assert self.engine is not None
        await self._control(carry_out(self.engine, decision),
                            decision.describe(intr.agent, interrupt_kind(intr.kind)))

    def open_message(self, msg: MessageView) -> None:
        self.push_screen(MessageScreen(msg))

    # -- agent actions ---------------------------------------------------------------------
    def action_message(self, agent: str | None = None, text: str = "", note: str = "") -> None:
        target = agent or self._target()
        if target is None:
            return
        if self.state is not None and (self.state.finished or self.state.agents[target].finished):
            why = ("The run has ended" if self.state.finished else
                   ev.ended_text(target, self.state.agents[target].status))
            rest = "no agent reads messages any more" if self.state.finished else \
                "it reads no more messages"
            self.notify(f"{why}: {rest}.", severity="warning")
            return

        async def send(text: str | None) -> None:
            if text and self.engine is not None:
                await self._control(self.engine.send_user_message(target, text),
                                    f"Sent to {target}.")

        self.push_screen(ComposeScreen(target, text, note), send)

    async def action_pause_resume(self, agent: str | None = None) -> None:
        target = agent or self._target()
        if target is None or self.engine is None or self.state is None:
            return
        if self.state.agents[target].status == ev.PAUSED:
            await self._control(self.engine.resume(target), f"Resumed {target}.")
        else:
            await self._control(self.engine.pause(target),
                                f"Paused {target}: it stops before its next tool call.")

    def action_cancel_agent(self, agent: str | None = None) -> None:
        target = agent or self._target()
        if target is None or self.state is None:
            return
        if self.state.agents[target].finished:
            self.notify(f"{ev.ended_text(target, self.state.agents[target].status)}.",
                        severity="warning")
            return

        async def confirmed(yes: bool | None) -> None:
            if yes and self.engine is not None:
                await self._control(self.engine.cancel(target), f"Cancelled {target}.")

        self.push_screen(ConfirmScreen(
            f"Cancel {target}?",
            f"{target} stops now: its running command is killed and its questions are "
            "withdrawn. The other agents go on.", yes="Cancel it", no="Keep it"), confirmed)

    def action_detail(self, agent: str | None = None) -> None:
        target = agent or self._target()
        if target is None or self.engine is None or self.state is None:
            return
        config = self.engine.team.agent(target)
        runtime = self.engine.agents.get(target)
        memory = runtime.memory_text if runtime is not None else ""
        self.push_screen(AgentDetailScreen(AgentDetail(self.state.agents[target], config,
                                                       memory)))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_shell(self, agent: str | None = None) -> None:
        """A shell in the selected agent's sandbox (the LOCAL backend: asks first)."""
        from tui.takeover import shell_for

        target = agent or self._target()
        if target is None or self.engine is None or target not in self.engine.agents:
            return
        if self.engine.finished.is_set():
            self.notify("The run has ended: its sandboxes are gone.", severity="warning")
            return
        shell = shell_for(self.engine.agents[target].sandbox)
        if isinstance(shell, str):
            self.notify(f"No shell for {target}: {shell}.", severity="warning")
            return
        if not shell.on_host:
            self.run_worker(self._take_over(target, shell))
            return

        async def confirmed(yes: bool | None) -> None:
            if yes:
                await self._take_over(target, shell)

        self.push_screen(ConfirmScreen(
            f"A shell for {target}: on this machine",
            f"{target} runs on the LOCAL backend, without a sandbox: the shell opens in its "
            f"workspace on this machine, as you. Exit the shell to come back.",
            yes="Open the shell", no="Cancel"), confirmed)

    async def _take_over(self, agent: str, shell) -> None:
        from tui.takeover import run_shell

        engine = self.engine
        assert engine is not None
        await engine.emit(ev.NOTICE, agent, level="info", takeover="shell",
                          text=f"you opened a shell in {shell.where}")
        sandbox = engine.agents[agent].sandbox
        await sandbox.hold_sweeps(True)  # the agent's commands ending must not kill the shell
        try:
            with self.suspend():
                code = run_shell(shell)
        finally:
            await sandbox.hold_sweeps(False)
        if not engine.finished.is_set():
            await engine.emit(ev.NOTICE, agent, level="info", takeover="shell",
                              text=f"you left the shell in {shell.where} (exit {code})")

    # -- quitting ----------------------------------------------------------------------------
    async def action_request_quit(self) -> None:
        if self._quitting:
            return
        running = self.state.agents_still_running() if self.state and not self.start_error else []
        if not running:
            await self.quit_now()
            return
        if isinstance(self.screen, ConfirmScreen) and self.screen.id == "confirm-quit":
            await self.quit_now()  # asked twice (q or ctrl+c again): quit
            return

        async def confirmed(yes: bool | None) -> None:
            if yes:
                await self.quit_now()

        screen = ConfirmScreen(
            "Quit?", f"Still running: {', '.join(running)}.\nStop them (their sandboxes are "
            "removed, the run is recorded as stopped) and quit?",
            yes="Stop and quit", no="Keep running")
        screen.id = "confirm-quit"
        self.push_screen(screen, confirmed)

    async def quit_now(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        if self.engine is not None and not self.engine.finished.is_set():
            self.notify("Stopping the agents…", timeout=30)
        await self.shutdown_engine()
        self.exit(self.exit_code())

    async def action_quit_now(self) -> None:
        await self.quit_now()

    # -- command palette ----------------------------------------------------------------------
    def palette_commands(self) -> Iterable[SystemCommand]:
        if self.state is None:
            return
        for intr in self.state.interrupts.values():
            # palette texts are markup: only our own words and ids, never the agent's prose
            yield SystemCommand(f"Answer {intr.id}: {intr.agent} {interrupt_kind(intr.kind)}",
                                f"open the {interrupt_kind(intr.kind)} of {intr.agent}",
                                lambda i=intr: self.open_interrupt(i))
        agents = list(self.state.agents.values())
        agents.sort(key=lambda a: a.id != self.selected_agent)  # the selected one first
        for view in agents:
            yield from self._agent_commands(view)
        yield SystemCommand("Help: every key", "the control center's keys", self.action_help)
        yield SystemCommand("Stop the run and quit", "asks while agents run",
                            lambda: self.run_worker(self.action_request_quit()))

    def _agent_commands(self, view: AgentView) -> Iterable[SystemCommand]:
        """What can be done to this agent now (a finished agent: only its details)."""
        a = view.id
        if not view.finished and not self.state.finished:
            yield SystemCommand(f"Message {a}", f"write to {a}'s inbox",
                                lambda: self.action_message(a))
            verb = "Resume" if view.status == ev.PAUSED else "Pause"
            yield SystemCommand(f"{verb} {a}", f"{verb.lower()} {a}",
                                lambda: self.run_worker(self.action_pause_resume(a)))
            yield SystemCommand(f"Cancel {a}", "asks first", lambda: self.action_cancel_agent(a))
        yield SystemCommand(f"Details of {a}", "config, plan, memory, tool calls, usage",
                            lambda: self.action_detail(a))

    async def action_quit(self) -> None:
        """Textual's own quit (palette, ctrl+q) goes through the same clean path."""
        await self.action_request_quit()


def _why_gone(answer: dict) -> str:
    if answer.get("expired"):
        return "expired"
    if answer.get("withdrawn"):
        return "was withdrawn"
    by = answer.get("by")
    if by and by != "user":
        return f"was answered by {by}"
    via = answer.get("via")  # the client another control center answered from
    return f"was answered from {via}" if isinstance(via, str) and via else "was answered"
