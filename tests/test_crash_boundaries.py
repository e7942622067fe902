"""kill -9 right after every event a client sees, resume, and the rules hold.

The sweep of issue 12: at every event boundary (no delay before the kill),
what the client saw is in the database (durable before visible), each command
ran at most once (exactly once unless reported interrupted), each question got
its own answer exactly once, each message was delivered once, and the run
finishes as an uninterrupted one does.
"""

from __future__ import annotations

import pytest
from crash_support import boundary_events, boundary_trial


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_at_every_event_boundary(tmp_path):
    total = boundary_events(tmp_path / "reference")
    differs = {}
    for n in range(1, total):
        problems, killed = boundary_trial(tmp_path / f"k{n}", n)
        assert killed, f"the run ended before event {n}"
        if problems:
            differs[n] = problems
    assert differs == {}


def test_kill_right_after_an_answer_and_a_command(tmp_path):
    """The window of issue 12: answer Q1, kill as the command's result shows."""
    total = boundary_events(tmp_path / "reference")
    assert total > 40
    # Q1 answered, the command's result (the slow sweep above kills at every boundary)
    for n in (12, 19):
        problems, killed = boundary_trial(tmp_path / f"k{n}", n)
        assert killed and problems == []
