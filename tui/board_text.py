"""The board's words: pure functions from board state to rich `Text`, unit-tested.

A card is two or three lines (title; assignee and attempt; a one-line status) that the
column crops to its width; a card's history is every attempt with its submission,
review verdicts and QA output.  Every string from the workflow (titles, summaries,
feedback, QA output: agents and commands wrote them) goes through `safe_text`.
"""

from __future__ import annotations

from rich.text import Text

from engine.control_chars import visible_controls, visible_line
from tui.board_state import (
    BLOCKED,
    CANCELLED,
    COLUMNS,
    DONE,
    QA,
    REVIEW,
    RUNNING,
    SKIPPED,
    TODO,
    Attempt,
    BoardState,
    HistoryEntry,
    TaskView,
    attempts,
)
from tui.presentation import clock_time, fold
from tui.safe_text import safe_text

#: task state -> (mark, style) on its card
STATE_LOOK: dict[str, tuple[str, str]] = {
    TODO: ("·", "dim"),
    RUNNING: ("▶", "bold green"),
    REVIEW: ("◆", "bold cyan"),
    QA: ("⚙", "bold blue"),
    DONE: ("✔", "green"),
    BLOCKED: ("✖", "bold red"),
    SKIPPED: ("⊘", "dim"),
    CANCELLED: ("⊘", "dim red"),
}
COLUMN_STYLE = {TODO: "bold", RUNNING: "bold green", REVIEW: "bold cyan", QA: "bold blue",
                DONE: "bold green", BLOCKED: "bold red"}
LINE = 200  # a card line is cut here; the column crops it to its width with an ellipsis


def status_line(task: TaskView) -> str:
    """What the task is doing, in a few words (one line)."""
    r = task.record
    if r.state == TODO:
        if r.feedback:
            return f"retry: {r.feedback}"
        return f"after {', '.join(r.depends_on)}" if r.depends_on else f"order {r.order}"
    if r.state == RUNNING:
        return f"fix: {r.feedback}" if r.attempt > 1 and r.feedback else "working"
    if r.state == REVIEW:
        return f"review by {r.reviewer}" if r.reviewer else "in review"
    if r.state == QA:
        return "QA running"
    if r.state == DONE:
        return r.summary or "done"
    if r.state == BLOCKED:
        return r.reason or r.feedback or "blocked: waits for you"
    if r.state in (SKIPPED, CANCELLED):
        return f"{r.state}: {r.reason}" if r.reason else r.state
    return r.state


Piece = tuple[str, str]  #: (text, rich style) of a part of one line


def card_text(task: TaskView, compact: bool = False) -> Text:
    """A card as one text (its lines joined)."""
    return Text("\n").join(card_lines(task, compact))


def card_lines(task: TaskView, compact: bool = False) -> list[Text]:
    """A card's lines as rich `Text`."""
    return [Text.assemble(*line) for line in card_pieces(task, compact)]


def card_pieces(task: TaskView, compact: bool = False) -> list[list[Piece]]:
    """A card: title; assignee and attempt; status (compact: the last two on one line).

    Each line is a list of (text, style) pieces, every text one line with its control
    characters visible (tabs and line breaks too), so the board can lay them into its
    columns without parsing or wrapping anything."""
    r = task.record
    closed = r.state in (SKIPPED, CANCELLED)
    title = [(_line(r.title or r.task_id), "dim" if closed else "bold")]
    if closed:  # the column says the state, except for these two in Done
        title.insert(0, (STATE_LOOK[r.state][0] + " ", STATE_LOOK[r.state][1]))
    who = [(_line(r.assignee or "unassigned"), "" if r.assignee else "dim italic"),
           (f" #{r.attempt}" + (f"/{r.max_attempts}" if r.max_attempts and not compact else ""),
            "bold yellow" if r.attempt > 1 else "dim")]
    status = [(_line(status_line(task)),
               "red" if r.state == BLOCKED else ("dim" if r.state != RUNNING else ""))]
    if compact:
        return [title, [*who, (" ", ""), *status]]
    return [title, who, status]


def _line(text: str) -> str:
    """The first line of ``text`` (an ellipsis if there is more), cut at LINE characters,
    every control character visible."""
    return visible_line(visible_controls(fold(text, LINE)))


def column_title(key: str, tasks: list[TaskView]) -> Text:
    return Text.assemble(*column_pieces(key, tasks))


def column_pieces(key: str, tasks: list[TaskView]) -> list[Piece]:
    """`Todo 4`; the Done column tells skipped and cancelled tasks apart: `Done 3 ⊘2`."""
    out = [(dict(COLUMNS)[key], COLUMN_STYLE.get(key, "bold")), (" ", ""),
           (str(len(tasks)), "dim")]
    if key == DONE:
        closed = sum(1 for t in tasks if t.state in (SKIPPED, CANCELLED))
        if closed:
            out.append((f" ⊘{closed}", "dim"))
    return out


def board_title(board: BoardState) -> Text:
    """The panel's title: the goal and the workflow's phase."""
    parts = [Text("Board", style="bold")]
    if board.phase:
        phase = board.phase + (f" (plan {board.plan_attempt})"
                               if board.phase in ("planning", "checking")
                               and board.plan_attempt > 1 else "")
        parts.append(safe_text(phase, "cyan" if board.phase != "stopped" else "red"))
    if board.phase == "stopped" and board.phase_reason:
        parts.append(safe_text(fold(board.phase_reason, 60), "red"))
    if board.goal:
        parts.append(safe_text(fold(board.goal, 60)))
    return Text(" · ").join(parts)


EMPTY_BOARD = {
    "planning": "No tasks yet: the planner is planning.",
    "checking": "No tasks yet: the checker is checking the plan.",
    "approval": "No tasks yet: the plan waits for your approval (n goes to it).",
    "stopped": "No tasks: the workflow stopped before any task was planned.",
}


def empty_board_text(board: BoardState) -> Text:
    return safe_text(EMPTY_BOARD.get(board.phase, "No tasks: this team has no workflow, or "
                                                  "its planner has not planned yet."), "dim")


# -- a card's history --------------------------------------------------------------------
ENTRY_WORDS = {
    "started": ("▶", "started", ""),  # the attempt's heading names the assignee
    "submitted": ("↑", "submitted", "bold"),
    "review_changes": ("✎", "review: changes requested", "yellow"),
    "review_approved": ("✔", "review: approved", "green"),
    "qa_started": ("⚙", "QA started", "dim"),
    "qa_failed": ("✖", "QA failed", "red"),
    "qa_passed": ("✔", "QA passed", "green"),
    "done": ("✔", "done", "bold green"),
    "blocked": ("✖", "blocked: waits for you", "bold red"),
    "retried": ("↻", "retried by you", "cyan"),
    "reassigned": ("→", "reassigned", "cyan"),
    "skipped": ("⊘", "skipped", "dim"),
    "cancelled": ("⊘", "cancelled", "red"),
}


def task_summary_text(task: TaskView) -> Text:
    """The task itself: id, state, assignee, order, dependencies, branch, description,
    acceptance."""
    r = task.record
    mark, style = STATE_LOOK.get(r.state, ("•", ""))
    of = f" of {r.max_attempts}" if r.max_attempts else ""
    lines = [Text.assemble((f"{mark} {r.state}", style), "  ",
                           safe_text(f"attempt {r.attempt}{of}", "bold"), "  ",
                           safe_text(f"id {r.task_id}", "dim"))]
    facts = [("assignee", r.assignee or "unassigned"), ("reviewer", r.reviewer),
             ("order", str(r.order)),
             ("after", ", ".join(r.depends_on) if r.depends_on else None),
             ("branch", r.branch)]
    for label, value in facts:
        if value:
            lines.append(Text.assemble((f"{label:<9}", "dim"), safe_text(value)))
    if r.reason:
        lines.append(Text.assemble(("why      ", "dim"), safe_text(r.reason, "red")))
    for label, value in (("Description", r.description), ("Acceptance", r.acceptance)):
        if value:
            lines += [Text(""), Text(label, style="bold underline"), safe_text(value)]
    return Text("\n").join(lines)


def entry_text(entry: HistoryEntry) -> Text:
    mark, words, style = ENTRY_WORDS.get(entry.kind, ("•", entry.kind, ""))
    out = Text.assemble((clock_time(entry.ts), "dim"), "  ", (f"{mark} {words}", style))
    if entry.who:
        out.append_text(safe_text(f" ({'by ' if entry.kind != 'reassigned' else 'to '}"
                                  f"{entry.who})", "dim"))
    if entry.text:
        out.append_text(Text.assemble("\n", safe_text(_indent(entry.text))))
    return out


def attempt_heading(attempt: Attempt, total: int) -> Text:
    who = attempt.assignee or "unassigned"
    return Text.assemble((f"Attempt {attempt.number}", "bold underline"),
                         safe_text(f"  {who}", "bold"),
                         ("  (latest)" if attempt.number == total else "", "dim"))


def history_sections(task: TaskView) -> list[tuple[Text, list[tuple[Text, str | None]]]]:
    """Per attempt: its heading and its entries, each with its QA output (or None)."""
    runs = attempts(task)
    total = runs[-1].number if runs else 0
    return [(attempt_heading(a, total), [(entry_text(e), e.output) for e in a.entries])
            for a in runs]


def qa_output_text(output: str) -> Text:
    """QA output as plain text (a command's output: hostile, never markup)."""
    return safe_text(output.rstrip("\n") or "(no output)")


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.strip("\n").splitlines() or [""])
