"""Each tool, played by scripted agents through the real engine (local sandbox, real SQLite)."""

from __future__ import annotations

import os

from engine_support import make_team, run_to_end, start, step


def results_by_call(watcher, agent):
    return [r for r in watcher.results(agent)]


async def test_run_command_returns_exit_code_output_and_streams_console(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("run_command", command="echo hello; echo oops >&2; exit 3"),
    ]}])
    engine, w, store = await run_to_end(team, tmp_path)
    (res,) = w.results("a")
    assert res["result"] == {"exit_code": 3, "output": "hello\noops\n", "truncated": False,
                             "timed_out": False}
    kinds = [e.data["kind"] for e in w.find("console", "a")]
    assert kinds[0] == "command" and kinds[-1] == "exit" and "output" in kinds
    assert "".join(e.data.get("text", "") for e in w.find("console", "a", kind="output")) \
        == "hello\noops\n"
    await store.close()


async def test_run_command_timeout_kills_the_tree_and_returns_124(tmp_path):
    marker = tmp_path / "ws" / "late"
    team = make_team(tmp_path, [{"id": "a", "sandbox_path": "ws", "script": [
        step("run_command", command="(sleep 2; touch late) & sleep 30", timeout=0.5),
        step("run_command", command="sleep 2.5; ls"),
    ]}])
    engine, w, store = await run_to_end(team, tmp_path)
    first, second = w.results("a")
    assert first["result"]["exit_code"] == 124 and first["result"]["timed_out"] is True
    assert not marker.exists(), "the background child outlived the timeout"
    assert "late" not in second["result"]["output"]
    await store.close()


async def test_run_command_output_is_capped_with_a_marker(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "resources": {"max_output": 1000}, "script": [
        step("run_command", command="seq 1 100000"),
    ]}])
    engine, w, store = await run_to_end(team, tmp_path)
    (res,) = w.results("a")
    out = res["result"]["output"]
    assert res["result"]["truncated"] is True
    assert "output truncated" in out and len(out) < 1200
    assert out.startswith("1\n2\n") and out.rstrip().endswith("100000")
    await store.close()


async def test_write_then_read_file_in_the_workspace(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "sandbox_path": "ws", "script": [
        step("write_file", path="dir/x.txt", content="héllo"),
        step("read_file", path="dir/x.txt"),
        step("read_file", path="/workspace/dir/x.txt"),
        step("read_file", path="missing.txt"),
    ]}])
    engine, w, store = await run_to_end(team, tmp_path)
    wr, rd, rd_abs, missing = w.results("a")
    assert (tmp_path / "ws" / "dir" / "x.txt").read_text() == "héllo"
    assert rd["result"]["content"] == "héllo" and rd_abs["result"]["content"] == "héllo"
    assert missing["is_error"] and "no file 'missing.txt'" in missing["result"]["error"]
    await store.close()


async def test_every_path_escape_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    ws = tmp_path / "ws"
    ws.mkdir()
    os.symlink(outside, ws / "link")
    os.symlink(tmp_path, ws / "dirlink")
    bad = ["../secret.txt", "a/../../secret.txt", str(outside), "/etc/passwd", "x\x00y",
           "link", "dirlink/secret.txt"]
    script = [step("read_file", path=p) for p in bad]
    script += [step("write_file", path=p, content="pwned") for p in bad]
    script += [step("run_command", command="ln -s /etc/hostname made_inside"),
               step("read_file", path="made_inside")]
    team = make_team(tmp_path, [{"id": "a", "sandbox_path": "ws", "script": script}])
    engine, w, store = await run_to_end(team, tmp_path)
    results = w.results("a")
    escapes = results[: 2 * len(bad)] + results[-1:]
    for res in escapes:
        assert res["is_error"], res
        assert any(word in res["result"]["error"] for word in ("outside", "'..'", "NUL")), res
    assert outside.read_text() == "top secret"
    assert not (tmp_path / "dirlink").exists()
    await store.close()


async def test_tool_errors_do_not_stop_a_scripted_agent(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("send_message", to="nobody", text="hi"),
        step("run_command", command="true", bogus=1),
        step("run_command"),
        step("finish", summary="went on"),
    ]}])
    engine, w, store = await run_to_end(team, tmp_path)
    r1, r2, r3, r4 = w.results("a")
    assert "unknown agent 'nobody'" in r1["result"]["error"]
    assert "unknown argument 'bogus'" in r2["result"]["error"]
    assert "missing argument 'command'" in r3["result"]["error"]
    assert engine.agents["a"].status == "done" and engine.agents["a"].summary == "went on"
    await store.close()


async def test_tools_allow_list_is_enforced(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "tools": ["read_file", "finish"], "script": []}])
    engine, w, store = await start(team, tmp_path)
    assert [t.name for t in engine.agents["a"].tools] == ["read_file", "finish"]
    await engine.wait()
    await store.close()
    team = make_team(tmp_path, [{"id": "b", "tools": ["finish"], "script": [
        step("finish", summary="ok")]}])
    from engine.brains.base import ToolCall
    from engine.toolbox import execute

    engine, w, store = await start(team, tmp_path / "b")
    result = await execute(engine.agents["b"], ToolCall("x", "run_command", {"command": "id"}))
    assert result.is_error and "not available to b" in result.content["error"]
    await engine.wait()
    await store.close()


async def test_update_memory_appends_and_is_read_at_next_start(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "memory_file": "mem/a.md", "script": [
        step("update_memory", text="remember the milk"),
    ]}])
    engine, w, store = await run_to_end(team, tmp_path)
    text = (tmp_path / "mem" / "a.md").read_text()
    assert "remember the milk" in text and "(a)" in text
    assert w.find("memory_updated", "a")
    await store.close()
    engine2, w2, store2 = await start(team, tmp_path / "second")
    assert "remember the milk" in engine2.agents["a"].memory_text
    await engine2.wait()
    await store2.close()


async def test_update_memory_without_memory_file_is_a_tool_error(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("update_memory", text="x")]}])
    engine, w, store = await run_to_end(team, tmp_path)
    (res,) = w.results("a")
    assert res["is_error"] and "no memory_file" in res["result"]["error"]
    await store.close()


async def test_agent_without_finish_ends_done_when_its_script_ends(tmp_path):
    team = make_team(tmp_path, [{"id": "a", "script": [step("run_command", command="true")]}])
    engine, w, store = await run_to_end(team, tmp_path)
    assert engine.agents["a"].status == "done"
    assert engine.status == "finished"
    assert w.find("run_finished")[0].data["status"] == "finished"
    await store.close()
