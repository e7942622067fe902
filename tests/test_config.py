"""agents.yaml validation: every bad input gets FILE:LINE: field: message, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.loader import ConfigError, load_team

CLI = [sys.executable, "-m", "tui"]
GOOD = """\
name: crew
defaults:
  model: scripted
  approval: risky
agents:
  - id: a
    direct_communication: [b]
    script: [{tool: finish, args: {summary: done}}]
  - id: b
    approval: never
    direct_communication: all
    script: []
"""


def write(tmp_path: Path, text: str, name: str = "agents.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_team(path)
    return [str(p) for p in exc.value.problems]


def test_good_file_loads_with_defaults_merged(tmp_path):
    team = load_team(write(tmp_path, GOOD))
    assert team.agent("a").approval == "risky" and team.agent("b").approval == "never"
    assert team.recipients_of(team.agent("b")) == ["a"]
    assert team.workspace_of(team.agent("a")) == tmp_path / ".agentorch/workspaces/a"


@pytest.mark.parametrize("text,expected", [
    ("agents:\n  - id: a\n    model: [scripted\n", ":4: (file): invalid YAML"),
    ("agents:\n  - id: a\n    script: []\n    approval: sometimes\n",
     ":4: agents[0].approval: Input should be 'never', 'plan', 'risky' or 'always' (or a list of them)"),
    ("agents:\n  - id: a\n    script: []\n    approval: [plan, sometimes]\n",
     ":4: agents[0].approval[1]: Input should be 'never', 'plan', 'risky' or 'always'"),
    ("agents:\n  - id: a\n    script: []\n    colour: red\n", ":4: agents[0].colour: unknown field"),
    ("agents:\n  - id: a\n    script: 5\n", ":3: agents[0].script: Input should be a valid list"),
    ("agents:\n  - id: a\n    script:\n      - tool: fly\n",
     ":4: agents[0].script[0].tool: unknown tool 'fly'"),
    ("name: x\n", ":1: agents: required field is missing"),
    ("agents: []\n", ":1: agents: List should have at least 1 item"),
    ("- just\n- a list\n", ":1: (file): expected a mapping"),
    ("", ":1: (file): the file is empty"),
    ("agents:\n  - id: a\n    script: []\n    direct_communication: [ghost]\n",
     ":4: agents[0].direct_communication: unknown agent 'ghost'; known agents: a"),
    ("agents:\n  - id: a\n    script: []\n  - id: a\n    script: []\n",
     ":4: agents[1].id: duplicate agent id 'a'"),
    ("agents:\n  - id: a\n    script: []\n    sandbox_path: w\n  - id: b\n    script: []\n"
     "    sandbox_path: ./w\n", ":7: agents[1].sandbox_path: same sandbox_path as agent 'a'"),
    ("agents:\n  - id: a\n    script: []\n    rules_file: nope.md\n",
     ":4: agents[0].rules_file: file 'nope.md' does not exist"),
    ("agents:\n  - id: user\n    script: []\n", ":2: agents[0].id: agent id 'user' is reserved"),
    ("agents:\n  - id: a\n", ":2: agents[0].script: a scripted agent needs a `script`"),
    ("agents:\n  - id: a\n    script:\n      - tool: ask_user\n        args: {question: x, options: [yes, no]}\n",
     ":5: agents[0].script[0].args: ask_user: argument 'options' must be a list of strings"),
    ("agents:\n  - id: a\n    tools: [finish]\n    script: [{tool: run_command, args: {command: x}}]\n",
     "agents[0].script[0].tool: tool 'run_command' is not in this agent's `tools` list"),
])
def test_each_bad_input_names_line_field_and_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    found = problems(path)
    assert any(p.startswith(str(path)) and expected in p for p in found), found


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    path = write(tmp_path, "agents:\n  - id: a\n    colour: red\n    approval: x\n    script: []\n")
    found = problems(path)
    assert len(found) == 2


def test_missing_file_and_directory(tmp_path):
    assert "file not found" in problems(tmp_path / "none.yaml")[0]
    assert "is a directory" in problems(tmp_path)[0]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_check_prints_summary_and_exits_0(tmp_path):
    proc = run_cli("check", str(write(tmp_path, GOOD)))
    assert proc.returncode == 0, proc.stderr
    assert "team 'crew', 2 agents" in proc.stdout
    assert "-> b" in proc.stdout and "sandbox backend auto" in proc.stdout


@pytest.mark.parametrize("text", ["agents:\n  - id: a\n    bogus: 1\n    script: []\n",
                                  "agents: [\n", "", "42\n"])
def test_check_reports_problems_and_exits_2_without_traceback(tmp_path, text):
    path = write(tmp_path, text)
    proc = run_cli("check", str(path))
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"{path}:")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_check_missing_file_and_directory_via_cli(tmp_path):
    for target in (tmp_path / "nope.yaml", tmp_path):
        proc = run_cli("check", str(target))
        assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
        assert str(target) in proc.stdout


def test_running_a_broken_team_exits_2_with_the_problem(tmp_path):
    path = write(tmp_path, "agents:\n  - id: a\n    bogus: 1\n    script: []\n")
    proc = run_cli(str(path), "--headless")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "agents[0].bogus: unknown field" in proc.stderr and "Traceback" not in proc.stderr


def test_schema_is_generated_from_the_models():
    proc = run_cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    agent = schema["$defs"]["AgentConfig"]
    assert agent["additionalProperties"] is False
    for field in ("id", "type", "description", "responsibilities", "rules_file", "memory_file",
                  "sandbox_path", "direct_communication", "initial_instructions", "model",
                  "script", "tools", "approval"):
        assert field in agent["properties"], field
    assert "sandbox" in schema["properties"] and "budget" in schema["properties"]


def test_demo_and_examples_are_valid():
    root = Path(__file__).resolve().parents[1]
    for path in [root / "examples" / "demo.yaml", *root.glob("examples/*.yaml")]:
        load_team(path)
