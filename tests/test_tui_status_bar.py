"""The status bar keeps the run's state, the counts, the cost and the run id at every
width, for running, finished, cancelled and failed runs; the brand, the team name, the
backend and the token count give way first.  Snapshots at 80, 100 and 120 columns show
the four states stacked (a small app of four status bars over folded run states)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from engine import events as ev
from tui.state import RunState
from tui.status_line import status_bar_text
from tui.widgets.status_bar import StatusBar

RUN_ID = "20261130-083651-32fdaec7bd3f8e43"  # as long as a real run id
AGENTS = ["planner", "coder", "reviewer"]


def event(type: str, agent: str | None = None, **data) -> ev.Event:
    return ev.Event(type, RUN_ID, 1, 0.0, agent, data)


def run(outcome: str, team: str = "a-team-with-a-rather-long-name", local: bool = False
        ) -> RunState:
    s = RunState(team, RUN_ID, [(a, "") for a in AGENTS])
    backend = "local" if local else "docker"
    s.apply(event(ev.RUN_STARTED, team=team, agents=AGENTS, backends=dict.fromkeys(AGENTS, backend)))
    s.apply(event(ev.USAGE, "coder", agent_tokens=123_456, agent_cost=1.2345,
                  team_tokens=123_456, team_cost=1.2345))
    finals = {"running": None,
              "finished": {"planner": ev.DONE, "coder": ev.DONE, "reviewer": ev.FAILED},
              "cancelled": {"planner": ev.DONE, "coder": ev.CANCELLED, "reviewer": ev.RUNNING},
              "failed": {"planner": ev.PENDING, "coder": ev.PENDING, "reviewer": ev.PENDING}}
    if outcome == "running":
        s.apply(event(ev.AGENT_STATUS, "planner", status=ev.DONE))
    else:
        s.apply(event(ev.RUN_FINISHED, status=outcome, reason="", agents=finals[outcome]))
    return s


OUTCOMES = ("running", "finished", "cancelled", "failed")


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("local", [False, True])
def test_state_counts_cost_and_run_id_always_fit(width: int, outcome: str, local: bool) -> None:
    s = run(outcome, local=local)
    text = status_bar_text(s, width)
    plain = text.plain
    assert text.cell_len <= width, plain
    assert RUN_ID in plain and "$1.23" in plain
    assert ("running" if outcome == "running" else f"run {outcome}") in plain
    assert ("✔" in plain) and ("✖" in plain)
    assert ("LOCAL" in plain) == local
    if outcome == "failed":
        assert "▶" not in plain  # a run that failed to start has no active agents
    if outcome == "cancelled":
        assert "⊘1" in plain.replace(" 1 cancelled", "1") and "■" in plain


def test_a_wide_terminal_shows_everything() -> None:
    plain = status_bar_text(run("running"), 200).plain
    assert plain.startswith(" agentorch  a-team-with-a-rather-long-name │ docker │ running")
    assert "123.5k tok $1.23" in plain and f"run {RUN_ID}" in plain


class Bars(App[None]):
    def compose(self) -> ComposeResult:
        for i, _ in enumerate(OUTCOMES):
            yield StatusBar(id=f"bar{i}")

    def on_mount(self) -> None:
        for i, outcome in enumerate(OUTCOMES):
            self.query_one(f"#bar{i}", StatusBar).show(run(outcome, local=outcome == "running"))


@pytest.mark.parametrize("width", [80, 100, 120])
def test_status_bar_snapshot(snap_compare, width: int) -> None:
    assert snap_compare(Bars(), terminal_size=(width, 4))
