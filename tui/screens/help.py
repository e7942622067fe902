"""Every key of the control center."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from tui.screens.dialog import Dialog

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Anywhere", [
        ("tab / shift+tab", "move between panels"),
        ("↑ ↓ / PgUp PgDn", "move inside a panel, scroll the console"),
        ("m", "write a message to the selected agent"),
        ("p", "pause or resume the selected agent"),
        ("x", "cancel the selected agent (asks first)"),
        ("d", "details of the selected agent: config, memory, tool calls, usage"),
        ("v", "the selected agent's changes (repo: teams): diff, merge, rollback"),
        ("s", "a shell in the selected agent's sandbox (exit it to come back)"),
        ("n", "go to the oldest interrupt an agent waits on (again: the next)"),
        ("i", "jump to the interrupts"),
        ("b / B", "the task board in place of the agents (again: back) / full screen"),
        ("S", "schedules: next firings, results; r runs one now, p pauses/resumes it"),
        ("ctrl+p", "command palette: every action, searchable"),
        ("?", "this help"),
        ("q / ctrl+c", "quit: asks while agents run, then stops them cleanly"),
    ]),
    ("Agents", [("↑ ↓", "select an agent (console, detail, m/p/x follow it)"),
                ("enter", "agent details")]),
    ("Interrupts", [("enter", "answer: question, debug, progress, plan, command"),
                    ("a", "approve a plan or command at once"),
                    ("r", "reject a plan or command with feedback")]),
    ("Plan approval", [("a", "approve"), ("r", "reject with feedback"),
                       ("e", "edit the steps, then ctrl+s to approve them")]),
    ("Board", [("← → / ↑ ↓", "another column (with cards) / another card"),
               ("enter", "the card's history: attempts, reviews, QA output"),
               ("a", "in a blocked card's history: retry, reassign, skip or cancel")]),
    ("Messages", [("enter", "read the whole message"),
                  ("f", "only messages of the selected agent (again: all)")]),
    ("Console", [("w", "wrap long lines or not"), ("← →", "scroll a page sideways (no wrap)")]),
    ("Changes (v)", [("↑ ↓ / PgUp PgDn", "move in the diff · [ ] previous/next file"),
                     ("/ then n N", "search, next/previous match"),
                     ("f", "send the agent feedback on the file or hunk under the cursor"),
                     ("M / D", "merge (pick ff, merge commit, squash) / discard its work"),
                     ("R / c", "roll back to a checkpoint / compare two checkpoints"),
                     ("r", "reload (the title says when the agent made a newer checkpoint)"),
                     ("esc / q", "back to the control center"),
                     ("! in the file list", "a file that runs on your machine when opened or built")]),
]


REPLAY_KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Replay (read-only)", [
        ("space", "pause or play"),
        ("n / .", "one event forward (pauses)"),
        ("+ / -", "faster / slower (¼× to 64×; pauses over 1 s are cut)"),
        ("G / end", "jump to the end of the run"),
        ("tab / shift+tab", "move between panels"),
        ("↑ ↓ / PgUp PgDn", "select an agent, scroll the console"),
        ("d", "details of the selected agent"),
        ("b / B", "the task board in place of the agents / full screen"),
        ("?", "this help"),
        ("q / ctrl+c", "quit"),
    ]),
    ("Messages", [("enter", "read the whole message"),
                  ("f", "only messages of the selected agent (again: all)")]),
]


def keys_table(keys: list[tuple[str, list[tuple[str, str]]]] = KEYS) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for section, rows in keys:
        table.add_row(Text(section, style="bold underline"), "")
        for key, what in rows:
            table.add_row(key, what)
    return table


class HelpScreen(Dialog[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: list[tuple[str, list[tuple[str, str]]]] = KEYS) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as box:
            box.border_title = "Keys"
            yield Static(keys_table(self.keys))
            yield Label("● blocking interrupt (the agent waits)  ○ informational · Esc close",
                        classes="hint")
