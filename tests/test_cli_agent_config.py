"""`brain:` and `cli:` in agents.yaml: bad combinations are one FILE:LINE sentence each."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.loader import ConfigError, load_team


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_team(path)
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize("text,expected", [
    ("agents:\n  - id: a\n    brain: gemini\n",
     ":3: agents[0].brain: Input should be 'claude', 'claude-code', 'codex' or 'command'"),
    ("agents:\n  - id: a\n    brain: claude-code\n",
     ":2: agents[0].model: a `brain: claude-code` agent needs `model:`"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: scripted\n",
     ":4: agents[0].model: `model: scripted` cannot drive `brain: claude-code`"),
    ("agents:\n  - id: a\n    brain: command\n",
     ":2: agents[0].cli: `brain: command` needs `cli: {command: [program, args...]}`"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: claude-sonnet-4-5\n"
     "    cli: {command: [x]}\n", ":5: agents[0].cli: `cli.command` only applies to `brain: command`"),
    ("agents:\n  - id: a\n    script: []\n    cli: {max_turns: 3}\n",
     ":4: agents[0].cli: `cli:` only applies to CLI agents"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: claude-sonnet-4-5\n"
     "    cli:\n      extra_args: [--settings=/tmp/mine.json]\n",
     ":6: agents[0].cli.extra_args: --settings is set by agentorch"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: claude-sonnet-4-5\n"
     "    cli:\n      max_turns: 0\n", ":6: agents[0].cli.max_turns: Input should be greater than 0"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: claude-sonnet-4-5\n"
     "    cli:\n      turn_timeout: .nan\n", ":6: agents[0].cli.turn_timeout"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: claude-sonnet-4-5\n"
     "    script: [{tool: finish, args: {summary: x}}]\n",
     ":5: agents[0].script: `script` only applies to `model: scripted`"),
    ("agents:\n  - id: a\n    brain: claude-code\n    model: gpt-9\n",
     ":4: agents[0].model: no price is known for model 'gpt-9'"),
    # Codex has no plan mode agentorch can hold it in
    ("agents:\n  - id: a\n    brain: codex\n    model: gpt-5-codex\n    approval: plan\n",
     ":5: agents[0].approval: Codex has no plan mode agentorch can hold it in"),
    ("agents:\n  - id: a\n    brain: codex\n    approval: [plan, always]\n",
     ":4: agents[0].approval: Codex has no plan mode agentorch can hold it in"),
    # the team's `defaults: {approval: plan}` reaches a Codex agent: its own line
    ("defaults:\n  approval: [plan, risky]\nagents:\n  - id: a\n    brain: codex\n",
     ":4: agents[0].approval: Codex has no plan mode agentorch can hold it in, so "
     "`approval: plan+risky` would not hold; write `approval: risky` or `always`"),
])
def test_each_bad_cli_agent_names_line_field_and_problem(tmp_path, text, expected):
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found


def test_cli_agents_load(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(
        "agents:\n"
        "  - id: cc\n    brain: claude-code\n    model: claude-sonnet-4-5\n"
        "    cli: {allowed_tools: [Read, 'Bash(git *)'], max_turns: 20, extra_args: [--verbose]}\n"
        "  - id: cmd\n    brain: command\n    cli: {command: [python3, agent.py]}\n"
        "  - id: cx\n    brain: codex\n    model: gpt-5-codex\n")
    team = load_team(path)
    cc, cmd, cx = team.agents
    assert cc.is_cli and cc.uses_anthropic_api and not cc.is_scripted
    assert cc.cli_options.max_turns == 20 and cc.cli_options.turn_timeout > 0
    assert cmd.is_cli and not cmd.uses_anthropic_api and cmd.cli_options.command == ["python3", "agent.py"]
    assert cx.is_cli and not cx.uses_anthropic_api
    assert cx.command_approval == "never"  # no `approval:` is `never`, which Codex can follow


@pytest.mark.parametrize("approval", ["never", "risky", "always"])
def test_codex_approvals_load(tmp_path: Path, approval: str) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(f"agents:\n  - id: cx\n    brain: codex\n    approval: {approval}\n")
    assert load_team(path).agents[0].approval == approval
