"""The board as the screen folds it (tui/board_state.py) and its words (tui/board_text.py):
pure functions of `task` and `workflow` events, tested without Textual."""

from __future__ import annotations

from typing import Any

from engine import events as ev
from engine.workflow.board import Task, task_event_data
from tui.board_state import TaskView, attempts
from tui.board_text import card_text, column_title, history_sections, status_line
from tui.state import RunState


def record(task_id: str = "t1", state: str = "todo", attempt: int = 1, **fields: Any
           ) -> dict[str, Any]:
    """A `task` event's data as the engine writes it (engine.workflow.board)."""
    task = Task(task_id, fields.pop("title", f"Title of {task_id}"), state=state,
                attempt=attempt, assignee=fields.pop("assignee", "coder"),
                reviewer=fields.pop("reviewer", "reviewer"))
    for key, value in fields.items():
        setattr(task, key, value)
    return task_event_data(task)


def run_state(*records: dict[str, Any]) -> RunState:
    s = RunState("team", "r1", [("coder", "coder")])
    for seq, data in enumerate(records, 1):
        s.apply(ev.Event(ev.TASK, "r1", seq, float(seq), None, data))
    return s


THROUGH_REVIEW_AND_QA = [
    record(state="todo"),
    record(state="running"),
    record(state="review", summary="added --json"),
    record(state="running", attempt=2, summary="added --json", feedback="sort the keys"),
    record(state="review", attempt=2, summary="sorted"),
    record(state="qa", attempt=2, summary="sorted"),
    record(state="running", attempt=3, summary="sorted", feedback="QA failed (exit 1)",
           qa_output="FAILED test_json\n1 failed"),
    record(state="review", attempt=3, summary="fixed"),
    record(state="qa", attempt=3, summary="fixed"),
    record(state="done", attempt=3, summary="fixed", qa_output="5 passed"),
]


def test_the_board_keeps_the_latest_record_of_each_task_in_its_column() -> None:
    s = run_state(record("a", "todo"), record("b", "todo", order=1), record("a", "running"),
                  record("c", "blocked", attempt=3, reason="QA failed 3 times"),
                  record("d", "skipped"), record("e", "cancelled"), record("b", "done"))
    columns = s.board.columns()
    assert [[t.task_id for t in columns[k]] for k in ("todo", "running", "done", "blocked")] \
        == [[], ["a"], ["b", "d", "e"], ["c"]]
    assert s.board.counts() == {"running": 1, "done": 1, "blocked": 1, "skipped": 1,
                                "cancelled": 1}
    assert s.board.take_dirty() == {"a", "b", "c", "d", "e"}
    assert s.board.take_dirty() == set()


def test_cards_are_ordered_by_order_then_by_when_they_were_planned() -> None:
    s = run_state(record("late", order=2), record("x", order=1), record("y", order=1),
                  record("first", order=0))
    assert [t.task_id for t in s.board.column("todo")] == ["first", "x", "y", "late"]


def test_a_repeated_record_adds_no_history_and_marks_nothing_changed() -> None:
    s = run_state(record(state="running"))
    s.board.take_dirty()
    s.apply(ev.Event(ev.TASK, "r1", 9, 9.0, None, record(state="running")))
    assert len(s.board.tasks["t1"].changes) == 1
    assert s.board.take_dirty() == set()


def test_the_workflow_event_gives_goal_phase_and_plan_attempt() -> None:
    s = run_state()
    s.apply(ev.Event(ev.WORKFLOW, "r1", 1, 1.0, None,
                     {"goal": "Add --json", "phase": "checking", "attempt": 2}))
    assert (s.board.goal, s.board.phase, s.board.plan_attempt) == ("Add --json", "checking", 2)


def test_history_tells_attempts_reviews_and_qa_runs_apart() -> None:
    task = run_state(*THROUGH_REVIEW_AND_QA).board.tasks["t1"]
    runs = attempts(task)
    assert [a.number for a in runs] == [1, 2, 3]
    kinds = [[e.kind for e in a.entries] for a in runs]
    assert kinds == [
        ["started", "submitted", "review_changes"],
        ["started", "submitted", "review_approved", "qa_started", "qa_failed"],
        ["started", "submitted", "review_approved", "qa_started", "qa_passed", "done"],
    ]
    assert runs[0].entries[2].text == "sort the keys"
    assert runs[0].entries[2].who == "reviewer"
    assert runs[1].entries[-1].output == "FAILED test_json\n1 failed"
    assert runs[2].entries[1].text == "fixed"
    assert runs[1].entries[2].text is None  # the approval does not repeat the old feedback
    assert runs[2].entries[4].output == "5 passed"


def test_history_of_a_blocked_task_then_retried_with_a_note_and_reassigned() -> None:
    task = run_state(
        record(state="running"), record(state="qa"),
        record(state="blocked", feedback="QA failed (exit 2)", qa_output="boom",
               reason="QA failed 3 times"),
        record(state="running", attempt=2, assignee="tester", feedback="try the other API"),
    ).board.tasks["t1"]
    runs = attempts(task)
    assert [[e.kind for e in a.entries] for a in runs] == [
        ["started", "submitted", "qa_started", "qa_failed", "blocked"],
        ["reassigned", "started"]]
    assert runs[0].entries[-1].text == "QA failed 3 times"
    assert (runs[1].entries[0].who, runs[1].entries[0].text) == ("tester", "try the other API")
    assert runs[1].assignee == "tester"


def test_history_of_a_blocked_task_retried_by_the_person() -> None:
    task = run_state(record(state="review"), record(state="blocked", reason="3 reviews"),
                     record(state="running", attempt=2, feedback="read the spec")
                     ).board.tasks["t1"]
    runs = attempts(task)
    assert [[e.kind for e in a.entries] for a in runs] == [
        ["submitted", "review_changes", "blocked"], ["retried", "started"]]
    assert runs[1].entries[0].text == "read the spec"


def test_a_malformed_record_is_coerced_not_a_crash() -> None:
    s = run_state({"task_id": "t1", "title": ["not", "text"], "state": "running",
                   "attempt": "two", "order": None, "depends_on": "t0", "summary": 42},
                  {"title": "no id"})
    task = s.board.tasks["t1"]
    assert (task.record.attempt, task.record.order, task.record.depends_on) == (1, 0, ())
    assert task.record.title == "['not', 'text']" and task.record.summary == "42"
    assert list(s.board.tasks) == ["t1"]


def test_a_card_shows_title_assignee_attempt_and_a_one_line_status() -> None:
    task = run_state(record(state="running", attempt=2, feedback="sort the keys\nand more",
                            title="Add --json")).board.tasks["t1"]
    assert card_text(task).plain == "Add --json\ncoder #2/3\nfix: sort the keys…"
    assert card_text(task, compact=True).plain == "Add --json\ncoder #2 fix: sort the keys…"


def test_card_words_per_state() -> None:
    def line(**kw: Any) -> str:
        return status_line(TaskView(run_state(record(**kw)).board.tasks["t1"].record, 0))

    assert line(state="todo", depends_on=["a", "b"]) == "after a, b"
    assert line(state="todo", order=2) == "order 2"
    assert line(state="running") == "working"
    assert line(state="review") == "review by reviewer"
    assert line(state="qa") == "QA running"
    assert line(state="done", summary="shipped") == "shipped"
    assert line(state="blocked", reason="QA failed 3 times") == "QA failed 3 times"
    assert line(state="skipped", reason="skipped by you") == "skipped: skipped by you"


def test_hostile_text_on_a_card_and_in_its_history_is_plain_and_visible() -> None:
    evil = "[bold red]x[/] [@click=app.quit]y[/] \x1b]0;owned\x07 \u202e"
    task = run_state(record(state="running", title=evil),
                     record(state="review", title=evil, summary=evil),
                     record(state="running", attempt=2, title=evil, feedback=evil,
                            qa_output=evil)).board.tasks["t1"]
    card = card_text(task)
    assert "[bold red]x[/]" in card.plain and "\x1b" not in card.plain
    assert "␛]0;owned␇" in card.plain and "<U+202E>" in card.plain
    assert not any("click" in str(span.style) for span in card.spans)
    for _, entries in history_sections(task):
        for text, _ in entries:
            assert "\x1b" not in text.plain and "\u202e" not in text.plain


def test_column_titles_count_cards_and_tell_skipped_apart_in_done() -> None:
    s = run_state(record("a", "done"), record("b", "skipped"), record("c", "cancelled"))
    assert column_title("done", s.board.column("done")).plain == "Done 3 ⊘2"
    assert column_title("qa", []).plain == "QA 0"
