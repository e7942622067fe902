"""agents.yaml validation: every bad input gets FILE:LINE: field: message, never a traceback."""

from __future__ import annotations

import json
import os
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


def test_demo_and_examples_are_valid(tmp_path):
    from engine.demo_repo import load_demo_team

    root = Path(__file__).resolve().parents[1]
    load_demo_team(root / "examples" / "demo.yaml", tmp_path / "demo")  # its repo made first
    for path in root.glob("examples/*.yaml"):
        if path.name != "demo.yaml":
            load_team(path)


# -- layout: config out of every agent's reach, no two agents overlapping ---------------
LAYOUT_HEAD = "defaults:\n  model: scripted\n  script: []\nagents:\n"


def layout(tmp_path: Path, agents: str, db: Path | None = None) -> list[str]:
    (tmp_path / "rules").mkdir(exist_ok=True)
    for name in ("a.md", "b.md"):
        (tmp_path / "rules" / name).write_text("be careful\n")
    path = write(tmp_path, LAYOUT_HEAD + agents)
    with pytest.raises(ConfigError) as exc:
        load_team(path, db=db or tmp_path / "state" / "state.db")
    return [str(p).removeprefix(f"{path}:") for p in exc.value.problems]


@pytest.mark.parametrize("agents,expected", [
    ("  - id: a\n    sandbox_path: .\n",
     "6: agents[0].sandbox_path: the workspace {tmp} contains the team file {tmp}/agents.yaml"),
    ("  - id: a\n    sandbox_path: ..\n",
     "6: agents[0].sandbox_path: the workspace {parent} contains the team file"),
    ("  - id: a\n    sandbox_path: state\n",
     "6: agents[0].sandbox_path: the workspace {tmp}/state contains the database"),
    ("  - id: a\n    sandbox_path: ws\n  - id: b\n    sandbox_path: ws/a\n",
     "8: agents[1].sandbox_path: the workspaces of 'b' and 'a' overlap ('b''s is inside 'a''s)"),
    ("  - id: a\n    sandbox_path: ws/a\n  - id: b\n    sandbox_path: ws\n",
     "8: agents[1].sandbox_path: the workspaces of 'b' and 'a' overlap ('a''s is inside 'b''s)"),
    ("  - id: a\n    sandbox_path: ws\n  - id: b\n    sandbox_path: ./ws/\n",
     "8: agents[1].sandbox_path: same sandbox_path as agent 'a'"),
    ("  - id: a\n    sandbox_path: ws\n  - id: b\n    sandbox_path: link\n",
     "8: agents[1].sandbox_path: same sandbox_path as agent 'a'"),  # link -> ws
    ("  - id: a\n    sandbox_path: ws\n    memory_file: ws/mem.md\n",
     "7: agents[0].memory_file: {tmp}/ws/mem.md is inside agent 'a''s workspace"),
    ("  - id: a\n    sandbox_path: rules\n  - id: b\n    rules_file: rules/b.md\n",
     "8: agents[1].rules_file: {tmp}/rules/b.md is inside agent 'a''s workspace"),
    ("  - id: a\n    memory_file: m.md\n  - id: b\n    memory_file: ./m.md\n",
     "8: agents[1].memory_file: {tmp}/m.md is also the memory_file of agent 'a': update_memory"),
    ("  - id: a\n    rules_file: rules/a.md\n  - id: b\n    rules_file: rules/a.md\n",
     "8: agents[1].rules_file: {tmp}/rules/a.md is also the rules_file of agent 'a'"),
    ("  - id: b\n    rules_file: rules/b.md\n  - id: c\n    memory_file: rules/b.md\n",
     "8: agents[1].memory_file: {tmp}/rules/b.md is also the rules_file of agent 'b': update_memory"),
    ("  - id: c\n    rules_file: rules/a.md\n    memory_file: rules/a.md\n",
     "7: agents[0].memory_file: {tmp}/rules/a.md is also the rules_file of agent 'c'"),
    ("  - id: a\n    memory_file: agents.yaml\n",
     "6: agents[0].memory_file: is the team file"),
    ("  - id: a\n    memory_file: state/state.db\n",
     "6: agents[0].memory_file: is the database"),
])
def test_overlapping_layouts_are_refused_with_file_line_field(tmp_path, agents, expected):
    (tmp_path / "ws").mkdir()
    os.symlink(tmp_path / "ws", tmp_path / "link")
    tmp = os.path.realpath(tmp_path)
    expected = expected.format(tmp=tmp, parent=os.path.dirname(tmp))
    found = layout(tmp_path, agents)
    assert any(p.startswith(expected) for p in found), found


def test_a_memory_file_from_defaults_is_shared_and_points_at_the_defaults_line(tmp_path):
    text = "defaults:\n  model: scripted\n  script: []\n  memory_file: team.md\nagents:\n  - id: a\n  - id: b\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_team(path, db=tmp_path / "state.db")
    (problem,) = exc.value.problems
    assert (problem.line, problem.field) == (4, "agents[1].memory_file"), problem


def test_a_workspace_symlinked_to_the_team_folder_is_refused(tmp_path):
    os.symlink(tmp_path, tmp_path / "sneaky")
    found = layout(tmp_path, "  - id: a\n    sandbox_path: sneaky\n")
    assert any("contains the team file" in p for p in found), found


def test_the_default_database_folder_cannot_be_a_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, LAYOUT_HEAD + "  - id: a\n    sandbox_path: other/x\n"
                 "  - id: b\n    sandbox_path: .agentorch\n")
    (tmp_path / "other").mkdir()
    write(tmp_path / "other", "")  # agents.yaml not in the workspace of a
    with pytest.raises(ConfigError) as exc:
        load_team(path)
    (problem,) = exc.value.problems
    assert "contains the database" in problem.message and problem.field == "agents[1].sandbox_path"


def test_every_layout_problem_is_reported_together(tmp_path):
    found = layout(tmp_path, "  - id: a\n    sandbox_path: .\n    memory_file: m.md\n"
                             "  - id: b\n    sandbox_path: sub\n    memory_file: m.md\n")
    assert len(found) >= 4, found  # team file, nested, memory inside ws, shared memory


def test_check_refuses_sandbox_path_dot_and_names_the_database(tmp_path):
    path = write(tmp_path, LAYOUT_HEAD + "  - id: a\n    sandbox_path: .\n")
    proc = run_cli("check", str(path), "--db", str(tmp_path / "s.db"))
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert f"{path}:6: agents[0].sandbox_path: the workspace" in proc.stdout
    assert "the team file" in proc.stdout


def test_pass_env_takes_variable_names_only(tmp_path):
    path = write(tmp_path, "agents:\n  - id: a\n    script: []\n    pass_env: [OK_NAME, 'A=B']\n")
    (found,) = problems(path)
    assert ":4: agents[0].pass_env: 'A=B' is not an environment variable name" in found


def test_a_symlinked_or_special_rules_or_memory_file_is_a_config_problem(tmp_path):
    (tmp_path / "real.md").write_text("rules\n")
    os.symlink(tmp_path / "real.md", tmp_path / "rules.md")
    os.mkfifo(tmp_path / "mem.md")
    path = write(tmp_path, "agents:\n  - id: a\n    script: []\n    rules_file: rules.md\n"
                           "    memory_file: mem.md\n")
    found = problems(path)
    assert any(":4: agents[0].rules_file: cannot be read: path 'rules.md' goes through a symlink"
               in p for p in found), found
    assert any(":5: agents[0].memory_file: cannot be read: 'mem.md' is not a regular file"
               in p for p in found), found


def test_a_team_file_reached_through_a_symlink_in_a_workspace_is_refused(tmp_path):
    """The agent could repoint the link: the path as written must stay out of workspaces too."""
    (tmp_path / "real").mkdir()
    (tmp_path / "ws").mkdir()
    (tmp_path / "real" / "rules.md").write_text("rules\n")
    write(tmp_path / "real", LAYOUT_HEAD + "  - id: a\n    sandbox_path: ../ws\n"
                             "    rules_file: ../ws/rules-link/rules.md\n")
    os.symlink(tmp_path / "real" / "agents.yaml", tmp_path / "ws" / "agents.yaml")
    os.symlink(tmp_path / "real", tmp_path / "ws" / "rules-link")
    with pytest.raises(ConfigError) as exc:
        load_team(tmp_path / "ws" / "agents.yaml", db=tmp_path / "state" / "s.db")
    found = [str(p) for p in exc.value.problems]
    assert any("sandbox_path: the workspace" in p and "contains the team file" in p
               for p in found), found
    assert any("rules_file:" in p and "inside agent 'a''s workspace" in p for p in found), found


def test_user_in_direct_communication_is_refused_with_what_to_use_instead(tmp_path):
    from engine.loader import ConfigError, load_team

    team = tmp_path / "team.yaml"
    team.write_text("agents:\n  - id: a\n    model: scripted\n    direct_communication: [user]\n")
    with pytest.raises(ConfigError) as info:
        load_team(team)
    text = str(info.value)
    assert "team.yaml:4" in text and "`user` is the person" in text and "ask_user" in text
