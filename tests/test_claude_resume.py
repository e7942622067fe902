"""A Claude agent killed with -9 mid-turn continues its stored conversation on --resume."""

from __future__ import annotations

import json
import time

import yaml
from crash_support import HeadlessRun
from fake_anthropic import MODEL, Turn, fake_api_fixture, text, tool

api = fake_api_fixture()


def test_a_claude_agent_continues_its_conversation_after_kill9(api, tmp_path):
    (tmp_path / "team.yaml").write_text(yaml.safe_dump({
        "name": "resumable", "sandbox": {"backend": "local"},
        "agents": [{"id": "coder", "model": MODEL, "max_retries": 1, "sandbox_path": "ws",
                    "initial_instructions": "Write a.txt, then wait."}]}))
    api.push("coder", Turn([text("Two things at once."),
                            tool("run_command", "toolu_one", command="echo one > a.txt"),
                            tool("run_command", "toolu_two", command="sleep 30")]))
    run = HeadlessRun(["team.yaml", "--headless", "--db", "state.db"], tmp_path)
    run.until(lambda e: e["type"] == "console" and e.get("text") == "sleep 30")
    time.sleep(0.3)
    run.kill9()
    assert (tmp_path / "ws" / "a.txt").read_text() == "one\n"
    assert len(api.requests_of("coder")) == 1

    api.push("coder", Turn([text("Picking up."), tool("finish", summary="resumed and done")]))
    resumed = HeadlessRun(["--resume", "last", "--headless", "--db", "state.db"], tmp_path)
    assert resumed.finish() == 0, resumed.proc.stderr.read()
    first, second = api.requests_of("coder")
    messages = second.body["messages"]
    # the stored conversation goes on: same first turn, the assistant's parallel calls,
    # then one user turn pairing every tool_use id with a result
    assert messages[0]["content"][0]["text"] == "Write a.txt, then wait."
    assert [b["id"] for b in messages[1]["content"] if b["type"] == "tool_use"] == \
        ["toolu_one", "toolu_two"]
    results = {b["tool_use_id"]: b for b in messages[2]["content"] if b["type"] == "tool_result"}
    assert set(results) == {"toolu_one", "toolu_two"}
    done = json.loads(results["toolu_one"]["content"])
    assert done["exit_code"] == 0 and "is_error" not in results["toolu_one"]
    note, _, body = results["toolu_two"]["content"].partition("\n")
    assert "the run stopped while this call ran" in note
    assert json.loads(body)["interrupted"] is True and results["toolu_two"]["is_error"] is True
    finished = resumed.events[-1]
    assert finished["type"] == "run_finished" and finished["agents"] == {"coder": "done"}
    assert not any(e["type"] == "tool_call" and e["call_id"] == "toolu_one"
                   for e in resumed.events), "a finished call was run again"
