"""kill -9 of the engine while Claude Code runs a tool: the resumed run continues the
CLI's own session (--resume <session_id> from the per-agent state directory) and
reports the cut tool call and turn as interrupted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.cli_image_support import CLI_IMAGE, require_cli_image
from tests.crash_support import HeadlessRun
from tests.fake_anthropic import FakeAnthropic, Turn, fake_api_fixture, text, tool

pytestmark = pytest.mark.docker

api = fake_api_fixture()


def test_claude_code_resumes_its_session_after_kill9(api: FakeAnthropic, tmp_path: Path) -> None:
    require_cli_image()
    (tmp_path / "team.yaml").write_text(yaml.safe_dump({
        "name": "cli-resume", "sandbox": {"backend": "docker", "image": CLI_IMAGE},
        "agents": [{"id": "coder", "brain": "claude-code", "model": "claude-sonnet-4-5",
                    "approval": "never", "tools": ["finish"], "sandbox_path": "ws",
                    "initial_instructions": "Start the long job."}]}))
    api.push("coder", Turn([text("Starting."), tool("Bash", "toolu_long", command="tail -f /dev/null",
                                                    description="long job")]))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    try:
        call = run.until(lambda e: e["type"] == "tool_call" and e.get("tool") == "Bash",
                         timeout=120)
        assert call is not None, run.proc.stderr.read()
        time.sleep(0.3)  # the call's event reaches the store (group commit)
    finally:
        run.kill9()
    first = api.requests_of("coder")[0]
    session = first.headers["x-claude-code-session-id"]

    api.push("coder", Turn([text("Picked up where I was.")]))
    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish(timeout=180) == 0, resumed.proc.stderr.read()
    second = api.requests_of("coder")[-1]
    assert second.headers["x-claude-code-session-id"] == session
    sent = json.dumps(second.body["messages"])
    assert "Start the long job." in sent and "toolu_long" in sent  # the same conversation
    assert "your previous turn was interrupted" in sent
    cut = [e for e in resumed.events
           if e["type"] == "tool_result" and e.get("call_id") == "toolu_long"]
    assert cut and cut[0]["interrupted"] and cut[0]["is_error"]
    notices = [e["text"] for e in resumed.events if e["type"] == "notice"]
    assert any("turn was interrupted" in n for n in notices), notices
    assert resumed.events[-1]["agents"] == {"coder": "done"}

