"""What the diff screen's keys do: merge, discard, roll back, compare checkpoints and
send feedback, each one a control command of the registry (engine/service/commands.py),
its refusal shown as one clear notification."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from tui.screens.compose import ComposeScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.diff_pick import PickScreen

if TYPE_CHECKING:
    from tui.screens.diff import DiffScreen

    _Base = DiffScreen
else:
    _Base = object

MERGE_MODES = (("auto", "Fast-forward when possible, else a merge commit"),
               ("ff", "Fast-forward only"),
               ("merge", "Merge commit (always)"),
               ("squash", "Squash into one new commit"))
QUOTE_LINES = 30  # of a hunk quoted in a feedback message


class DiffActions(_Base):
    async def command(self, raw: dict[str, Any], done: str | None = None) -> Any:
        """Run one control command; a refusal is an error toast (None returned)."""
        from engine.recording import ControlError

        engine = getattr(self.app, "engine", None)
        if engine is None:
            self.app.notify("No run is open.", severity="error")
            return None
        try:
            result = await engine.handle_command(raw)  # in process, or over the socket
        except ControlError as exc:
            self.app.notify(str(exc), title="Not possible", severity="error", timeout=10)
            return None
        text = result if isinstance(result, str) and result else done
        if text:
            self.app.notify(text, timeout=6)
        return result if result is not None else True

    # -- merge and discard -----------------------------------------------------------
    def action_merge(self) -> None:
        src = self.source
        options = [(key, Text(what + ("  (default)" if key == src.merge_mode else "")))
                   for key, what in MERGE_MODES]

        async def chosen(mode: str | None) -> None:
            if mode is not None:
                await self.command({"type": "merge", "agent": src.agent, "how": mode})

        self.app.push_screen(PickScreen(
            f"Merge {src.agent}'s work into {src.base_branch}",
            f"Its latest checkpoint becomes branch agentorch/{src.run_id}/{src.agent} and is "
            f"merged into {src.base_branch}. A conflict or uncommitted changes there change "
            "nothing.", options, src.merge_mode), chosen)

    def action_discard(self) -> None:
        src = self.source

        async def confirmed(yes: bool | None) -> None:
            if yes:
                await self.command({"type": "discard", "agent": src.agent})

        self.app.push_screen(ConfirmScreen(
            f"Discard {src.agent}'s work?",
            "It is not merged and no longer counts as unmerged work (`runs`, `clean`). "
            "Its checkpoints stay until `agentorch-tui clean`, so you can still merge it "
            "or roll back to it.", yes="Discard", no="Keep it"), confirmed)

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint_options(self) -> list[tuple[str, Text]]:
        from tui.screens.diff import checkpoint_label

        return [(cp.commit, checkpoint_label(cp, latest=i == 0 and cp.subject != "base"))
                for i, cp in enumerate(self.checkpoints)]

    def action_rollback(self) -> None:
        src = self.source
        if len(self.checkpoints) < 2:
            self.app.notify(f"{src.agent} has no checkpoint to roll back to yet.",
                            severity="warning")
            return

        engine = getattr(self.app, "engine", None)
        if engine is not None and engine.finished.is_set() and \
                engine.backends.get(src.agent) == "docker":
            self.app.notify(f"The run has ended and {src.agent}'s container is gone: roll back "
                            f"with `agentorch-tui rollback {src.run_id} {src.agent} CHECKPOINT` "
                            "(it starts a sandbox for it).", severity="warning", timeout=12)
            return

        async def chosen(commit: str | None) -> None:
            if commit is not None and await self.command(
                    {"type": "rollback", "agent": src.agent, "checkpoint": commit}):
                self.until = None
                self.reload()

        self.app.push_screen(PickScreen(
            f"Roll {src.agent}'s workspace back to…",
            "Its files become those of the checkpoint you choose (the agent must be paused "
            "or finished). The state before is checkpointed too, so this can be undone.",
            self.checkpoint_options(), self.checkpoints[min(1, len(self.checkpoints) - 1)].commit),
            chosen)

    def action_compare(self) -> None:
        if len(self.checkpoints) < 2:
            self.app.notify(f"{self.source.agent} has no checkpoint yet.", severity="warning")
            return

        async def until_chosen(until: str | None, since: str) -> None:
            if until is not None:
                self.since = "base" if since == self.checkpoints[-1].commit else since
                self.until = None if until == self.checkpoints[0].commit else until
                self.reload()

        async def since_chosen(since: str | None) -> None:
            if since is None:
                return
            self.app.push_screen(PickScreen(
                "Compare to…", f"From {since[:10]} to which checkpoint?",
                self.checkpoint_options(), self.checkpoints[0].commit),
                lambda until: until_chosen(until, since))

        self.app.push_screen(PickScreen(
            "Compare from…", "Show the changes between two checkpoints: first the older one.",
            self.checkpoint_options(), self.checkpoints[-1].commit), since_chosen)

    # -- feedback ---------------------------------------------------------------------------
    def feedback_subject(self) -> tuple[str, str] | None:
        """(what the feedback is about, the quoted lines) for the cursor's file or hunk."""
        from tui.widgets.diff_view import DiffView

        view = self.query_one(DiffView)
        if self.diff is None:
            return None
        index = self.diff.file_at(view.cursor)
        if index is None:
            return None
        path = self.diff.files[index].path
        hunk = self.diff.hunk_at(view.cursor)
        if hunk is None:
            return f"file {path}", ""
        start, end = hunk
        lines = self.diff.lines[start:min(end, start + QUOTE_LINES + 1)]
        more = "\n…" if end - start > QUOTE_LINES + 1 else ""
        return f"file {path}, hunk {self.diff.lines[start].split(' @@')[0]} @@", "\n".join(lines) + more

    def action_feedback(self) -> None:
        subject = self.feedback_subject()
        if subject is None:
            self.app.notify("Move to a file or hunk of the diff first.", severity="warning")
            return
        about, quoted = subject
        agent = self.source.agent

        async def send(text: str | None) -> None:
            if text:
                body = f"Feedback from the person reviewing your changes, on {about}:\n"
                if quoted:
                    body += f"```diff\n{quoted}\n```\n"
                await self.command({"type": "message", "to": agent, "text": body + text},
                                   f"Feedback on {about} sent to {agent}.")

        self.app.push_screen(ComposeScreen(agent, "", f"Feedback on {about} (the hunk is "
                                                      "quoted in the message)"), send)
