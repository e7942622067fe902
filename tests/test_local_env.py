"""The local backend runs commands with a minimal environment: never the engine's secrets."""

from __future__ import annotations

from engine_support import make_team, run_to_end, step


async def test_a_local_command_sees_no_api_key_only_what_pass_env_names(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-456")
    monkeypatch.setenv("MY_TOOL_HOME", "/opt/tool")
    team = make_team(tmp_path, [
        {"id": "a", "sandbox_path": "wa", "script": [step("run_command", command="env")]},
        {"id": "b", "sandbox_path": "wb", "pass_env": ["MY_TOOL_HOME", "NOT_SET_ANYWHERE"],
         "script": [step("run_command",
                         command='env; test "$MY_TOOL_HOME" = /opt/tool && echo has-the-value')]},
    ])
    engine, w, store = await run_to_end(team, tmp_path)
    plain = w.results("a")[0]["result"]["output"]
    passed = w.results("b")[0]["result"]["output"]
    for out in (plain, passed):
        assert "sk-ant-secret-123" not in out and "aws-secret-456" not in out, out
        assert "ANTHROPIC_API_KEY" not in out
    names = {line.split("=", 1)[0] for line in plain.splitlines() if "=" in line}
    assert {"PATH", "HOME", "AGENTORCH_AGENT"} <= names
    assert names <= {"PATH", "HOME", "LANG", "AGENTORCH_AGENT", "PWD", "SHLVL", "_", "OLDPWD"}, names
    assert "MY_TOOL_HOME" not in plain and "has-the-value" in passed
    assert "MY_TOOL_HOME=[redacted $MY_TOOL_HOME]" in passed  # pass_env values never in the log
    assert "NOT_SET_ANYWHERE" not in passed
    await store.close()
