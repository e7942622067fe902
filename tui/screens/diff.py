"""The diff screen: what one agent changed, reviewed from the keyboard.

The changed files with +/- counts on the left (files that run on your machine when
opened or built are marked `!`), the unified diff on the right (against the base, or
between any two checkpoints), searchable with `/`.  From here: merge (`M`), discard
(`D`), roll back to a checkpoint (`R`), and send the agent feedback on the file or
hunk under the cursor (`f`).  Every action is a control command of the registry
(engine/service/commands.py), like a headless client's.  The diff loads off the
event loop; the view styles only the lines on screen.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from engine.workspace_diff import AgentDiff, CheckpointInfo, FileChange, checkpoints, load_diff
from sandboxes.workspaces.repo import EngineRepo
from tui.safe_text import safe_text
from tui.screens.diff_actions import DiffActions
from tui.widgets.diff_view import DiffView

STATUS_MARK = {"added": ("A", "green"), "deleted": ("D", "red"), "modified": ("M", "yellow"),
               "renamed": ("R", "cyan")}


@dataclass(frozen=True)
class DiffSource:
    """Where one agent's work is: the engine's repository of the run's project."""

    agent: str
    run_id: str
    repo: EngineRepo
    base_branch: str
    merge_mode: str = "auto"


def file_label(f: FileChange) -> Text:
    mark, style = STATUS_MARK.get(f.status, ("?", ""))
    label = Text.assemble(("! " if f.risk or f.executable else "  ", "bold red"), (mark, style), " ")
    label.append_text(safe_text(f.name))
    counts = " bin" if f.binary else f" +{f.added} -{f.removed}"
    label.append(counts, style="dim")
    return label


def checkpoint_label(cp: CheckpointInfo, latest: bool = False) -> Text:
    when = time.strftime("%H:%M:%S", time.localtime(cp.ts)) if cp.ts else "        "
    label = Text.assemble((cp.commit[:10], "bold"), " ", (when, "dim"), " ")
    label.append_text(safe_text(cp.subject.removeprefix("agentorch ")))
    if latest:
        label.append(" (latest)", style="green")
    return label


class DiffScreen(DiffActions, Screen[None]):
    DEFAULT_CSS = """
    DiffScreen { layout: vertical; }
    DiffScreen #diff-title { height: 1; padding: 0 1; background: $panel; }
    DiffScreen #diff-risk { height: auto; max-height: 3; padding: 0 1; background: $error 30%;
                            display: none; }
    DiffScreen #diff-risk.-shown { display: block; }
    DiffScreen #diff-body { height: 1fr; }
    DiffScreen #diff-files { width: 30%; min-width: 22; max-width: 48; height: 1fr;
                             border: round $primary 40%; background: $surface; }
    DiffScreen #diff-files:focus { border: round $accent; }
    DiffScreen DiffView { width: 1fr; border: round $primary 40%; }
    DiffScreen DiffView:focus { border: round $accent; }
    DiffScreen #diff-where { height: 1; padding: 0 1; color: $text-muted; }
    DiffScreen #diff-search { display: none; height: 3; }
    DiffScreen #diff-search.-shown { display: block; }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Back", show=False),  # the help lists it
        Binding("slash", "search", "Search"),
        Binding("f", "feedback", "Feedback"),
        Binding("M", "merge", "Merge"),
        Binding("D", "discard", "Discard"),
        Binding("R", "rollback", "Rollback"),
        Binding("c", "compare", "Compare"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, source: DiffSource) -> None:
        super().__init__()
        self.source = source
        self.since = "base"  # a commit, or `base`
        self.until: str | None = None  # a commit, None: the latest checkpoint
        self.diff: AgentDiff | None = None
        self.checkpoints: list[CheckpointInfo] = []
        self.loaded = asyncio.Event()
        self.behind = False  # the agent made checkpoints since this diff was read

    def compose(self) -> ComposeResult:
        yield Static(safe_text(f"Changes of {self.source.agent} · loading…"), id="diff-title")
        yield Static(id="diff-risk")
        with Horizontal(id="diff-body"):
            files = OptionList(id="diff-files")
            files.border_title = "Files"
            yield files
            view = DiffView(id="diff-view")
            view.border_title = "Diff"
            yield view
        yield Static(id="diff-where")
        yield Input(placeholder="Search the diff; Enter finds, n/N next/previous, Esc closes",
                     id="diff-search")
        yield Footer()

    def on_mount(self) -> None:
        if not getattr(self.app, "blink_cursors", True):
            self.query_one(Input).cursor_blink = False
        self.query_one(DiffView).focus()
        self.reload()

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        self.loaded.clear()
        self.run_worker(self._load(), group="diff-load", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        src = self.source
        try:
            found, diff = await asyncio.to_thread(self._read)
        except Exception as exc:  # noqa: BLE001 - git or the repository: say so on screen
            self.query_one("#diff-title", Static).update(
                safe_text(f"Changes of {src.agent}: cannot read them ({exc})"))
            self.loaded.set()
            return
        self.checkpoints = found
        self.show(diff)
        self.loaded.set()

    def _read(self) -> tuple[list[CheckpointInfo], AgentDiff | None]:
        src = self.source
        found = checkpoints(src.repo, src.run_id, src.agent)
        if len(found) < 2:  # only the base (or nothing): no change yet
            return found, None
        since = found[-1].commit if self.since == "base" else self.since
        return found, load_diff(src.repo, since, self.until or found[0].commit)

    def show(self, diff: AgentDiff | None) -> None:
        self.diff = diff
        files = self.query_one("#diff-files", OptionList)
        files.clear_options()
        view = self.query_one(DiffView)
        title = self.query_one("#diff-title", Static)
        risk = self.query_one("#diff-risk", Static)
        self.behind = False
        if diff is None:
            title.update(self.title_text())
            risk.remove_class("-shown")
            view.show_diff(AgentDiff("", ""))
            return
        title.update(self.title_text())
        files.add_options([Option(file_label(f), id=str(i)) for i, f in enumerate(diff.files)])
        flagged = [f for f in diff.files if f.risk or f.executable]
        if flagged:
            names = ", ".join(f.path for f in flagged[:4]) + (" …" if len(flagged) > 4 else "")
            risk.update(Text.assemble(
                ("! ", "bold"), safe_text(f"{len(flagged)} changed file(s) run on your machine "
                                          f"when opened or built: {names}. Read them before merging.")))
            risk.add_class("-shown")
        else:
            risk.remove_class("-shown")
        view.show_diff(diff)
        self.on_diff_view_cursor_moved(DiffView.CursorMoved(0))

    def title_text(self) -> Text:
        diff = self.diff
        if diff is None:
            text = safe_text(f"Changes of {self.source.agent}: nothing changed yet")
        else:
            text = Text.assemble(safe_text(f"Changes of {self.source.agent} · "),
                                 safe_text(self.range_text()), " · ",
                                 (f"{len(diff.files)} files ", "bold"),
                                 (f"+{diff.added}", "green"), " ", (f"-{diff.removed}", "red"))
        if self.behind:
            text.append("  · newer checkpoint: r reloads", style="bold yellow")
        return text

    def range_text(self) -> str:
        def name(commit: str | None) -> str:
            if commit is None or (self.checkpoints and commit == self.checkpoints[0].commit):
                return "latest checkpoint"
            if self.checkpoints and commit == self.checkpoints[-1].commit:
                return f"base ({self.source.base_branch})"
            return commit[:10]
        since = f"base ({self.source.base_branch})" if self.since == "base" else name(self.since)
        return f"{since} → {name(self.until)}"

    # -- moving around ---------------------------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.diff is not None and event.option.id is not None and \
                self.query_one("#diff-files", OptionList).has_focus:
            self.query_one(DiffView).move_to(self.diff.files[int(event.option.id)].start, top=True)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.diff is not None and event.option.id is not None:
            view = self.query_one(DiffView)
            view.move_to(self.diff.files[int(event.option.id)].start, top=True)
            view.focus()

    def on_diff_view_cursor_moved(self, event: DiffView.CursorMoved) -> None:
        where = self.query_one("#diff-where", Static)
        index = self.diff.file_at(event.line) if self.diff else None
        if index is None:
            where.update("")
            return
        f = self.diff.files[index]
        parts = [safe_text(f.name, "bold")]
        if f.risk:
            parts += [Text("  ! ", "bold red"), safe_text(f.risk, "red")]
        if f.executable:
            parts += [Text("  ! executable", "bold red")]
        where.update(Text.assemble(*parts))
        files = self.query_one("#diff-files", OptionList)
        if not files.has_focus:
            files.highlighted = index

    # -- search ------------------------------------------------------------------------------
    def action_search(self) -> None:
        box = self.query_one("#diff-search", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        view = self.query_one(DiffView)
        if not view.find(event.value, 1, from_cursor=True) and event.value:
            self.app.notify(f"No line holds {event.value!r}.", severity="warning", timeout=3)
        event.input.remove_class("-shown")
        view.focus()

    def action_close(self) -> None:
        box = self.query_one("#diff-search", Input)
        if box.has_focus:
            box.remove_class("-shown")
            self.query_one(DiffView).focus()
            return
        self.dismiss(None)

    def action_reload(self) -> None:
        self.reload()

    def checkpoints_arrived(self, agents: set[str | None]) -> None:
        """The agent made new checkpoints: say so in the title (r reloads), never move
        the diff under the reader's eyes."""
        if self.source.agent in agents and self.loaded.is_set() and not self.behind:
            self.behind = True
            self.query_one("#diff-title", Static).update(self.title_text())


def open_changes(app, agent: str | None) -> None:
    """Push the diff screen of ``agent`` (the selected one), or say why there is none."""
    engine = getattr(app, "engine", None)
    if agent is None or engine is None:
        return
    ws = engine.workspaces
    if ws is None:
        app.notify("This team works without `repo:`, so there are no changes to review; "
                   "add `repo: .` to the team file to give each agent a clone.", severity="warning")
        return
    app.push_screen(DiffScreen(DiffSource(agent, engine.run_id, ws.repo,
                                          ws.branch or engine.team.base or "", engine.team.merge)))
