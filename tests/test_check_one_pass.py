"""`check` reports every problem of a team file in one pass, in file order, in words:
schema problems (a bad id, an unknown field, an unknown tool) and the checks that need a
valid team (an unknown `direct_communication` target, a missing rules file, a bad script
argument) together."""

from __future__ import annotations

from pathlib import Path

from engine.cli import run_subcommand

TEAM = """\
name: broken
agents:
  - id: 1coder
    model: scripted
    script: []
  - id: writer
    model: scripted
    colour: blue
    script: []
  - id: runner
    model: scripted
    script:
      - tool: fly_away
  - id: talker
    model: scripted
    direct_communication: [nobody]
    script: []
  - id: ruled
    model: scripted
    rules_file: rules/missing.md
    script: []
  - id: scripter
    model: scripted
    script:
      - tool: run_command
        args: {cmd: ls}
"""


def test_check_lists_every_problem_in_file_order(tmp_path: Path, capsys) -> None:
    (tmp_path / "team.yaml").write_text(TEAM)
    code = run_subcommand(["check", str(tmp_path / "team.yaml"), "--db",
                           str(tmp_path / "state.db")])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 2, out
    lines = [int(x.split(":")[1]) for x in out]
    assert lines == sorted(lines), out
    expected = [  # (line, words that say what is wrong)
        (3, "an id must start with a letter"),
        (8, "unknown field"),
        (13, "unknown tool 'fly_away'"),
        (16, "unknown agent 'nobody'"),
        (20, "does not exist"),
        (26, "missing argument 'command'"),
    ]
    assert len(out) == len(expected), out
    for (line, words), got in zip(expected, out, strict=True):
        assert f":{line}:" in got and words in got, got
    assert not any("pattern" in x or "^[A-Za-z]" in x for x in out)
