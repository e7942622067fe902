"""kill -9 of the engine while Codex runs a command in its container: the resumed run
continues Codex's own thread (`codex exec resume <thread_id>`, its sessions kept in the
per-agent CODEX_HOME outside the workspace) and reports the cut call and turn as
interrupted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.cli_image_support import CLI_IMAGE, require_cli_image
from tests.crash_support import HeadlessRun
from tests.fake_openai import FakeResponses, exec_command, message, serve_responses

pytestmark = pytest.mark.docker


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch):
    yield from serve_responses(monkeypatch, "sk-openai-resume-test")


@pytest.mark.parametrize("approval", ["never", "risky"])  # codex exec; codex app-server
def test_codex_resumes_its_thread_after_kill9(responses: FakeResponses, tmp_path: Path,
                                              approval: str) -> None:
    require_cli_image()
    (tmp_path / "team.yaml").write_text(yaml.safe_dump({
        "name": "codex-resume", "sandbox": {"backend": "docker", "image": CLI_IMAGE},
        "pricing": {"gpt-5-codex": {"input": 1.25, "output": 10}},
        "agents": [{"id": "cx", "brain": "codex", "model": "gpt-5-codex",
                    "approval": approval, "tools": ["finish"], "sandbox_path": "ws",
                    "initial_instructions": "Start the long job."}]}))
    responses.push(exec_command("sleep 600", "call_long"))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    try:
        call = run.until(lambda e: e["type"] == "tool_call" and e.get("tool") == "shell",
                         timeout=120)
        assert call is not None, run.proc.stderr.read()
        time.sleep(0.3)  # the call's event reaches the store (group commit)
    finally:
        run.kill9()
    thread = responses.headers[0]["thread-id"]

    responses.push(message("Picked up where I was."))
    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish(timeout=180) == 0, resumed.proc.stderr.read()
    assert responses.headers[-1]["thread-id"] == thread  # the same thread
    sent = json.dumps(responses.requests[-1]["input"])
    assert "Start the long job." in sent and "call_long" in sent  # the same conversation
    assert "your previous turn was interrupted" in sent
    cut = [e for e in resumed.events
           if e["type"] == "tool_result" and e.get("call_id") == call["call_id"]]
    assert cut and cut[0]["interrupted"] and cut[0]["is_error"]
    notices = [e["text"] for e in resumed.events if e["type"] == "notice"]
    assert any("turn was interrupted" in n for n in notices), notices
    assert resumed.events[-1]["agents"] == {"cx": "done"}
    assert [e for e in resumed.events if e["type"] == "usage"]  # metered after the resume too
