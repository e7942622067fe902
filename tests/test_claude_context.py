"""Context shortening: old tool results shrink, every tool_use keeps its tool_result."""

from __future__ import annotations

import copy

from engine_support import make_team, run_to_end
from fake_anthropic import Turn, claude_agent, fake_api_fixture, tool

from engine.brains import claude_context as cc

api = fake_api_fixture()


def assert_valid(messages: list[dict]) -> None:
    """The Messages API's rules for a tool-use conversation."""
    assert messages[0]["role"] == "user"
    for prev, msg in zip(messages, messages[1:], strict=False):
        assert prev["role"] != msg["role"], "roles must alternate"
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        ids = [b["id"] for b in msg["content"] if b["type"] == "tool_use"]
        if not ids or i + 1 == len(messages):
            continue
        following = messages[i + 1]["content"]
        results = [b["tool_use_id"] for b in following if b["type"] == "tool_result"]
        assert results == ids, f"tool_use ids {ids} answered by {results}"
        assert following[:len(ids)] == [b for b in following if b["type"] == "tool_result"]


def conversation(turns: int, size: int) -> list[dict]:
    msgs: list[dict] = [{"role": "user", "content": [{"type": "text", "text": "Start."}]}]
    for n in range(turns):
        msgs.append({"role": "assistant", "content": [
            {"type": "text", "text": f"turn {n}"},
            {"type": "tool_use", "id": f"t{n}a", "name": "read_file", "input": {"path": "f"}},
            {"type": "tool_use", "id": f"t{n}b", "name": "write_file",
             "input": {"path": "g", "content": "w" * size}}]})
        msgs.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"t{n}a", "content": "r" * size},
            {"type": "tool_result", "tool_use_id": f"t{n}b", "content": "ok", "is_error": True},
            {"type": "text", "text": f"[message m{n} from planner (notify)]\nhello"}]})
    return msgs


def test_shortening_cuts_old_results_and_arguments_and_keeps_the_pairs():
    msgs = conversation(turns=8, size=5000)
    before = copy.deepcopy(msgs)
    removed = cc.shorten(msgs, keep_recent=6)

    assert_valid(msgs)
    assert len(msgs) == len(before)
    assert removed > 0
    old_result = msgs[2]["content"][0]
    assert old_result["tool_use_id"] == "t0a"
    assert old_result["content"].startswith("r" * cc.KEEP_CHARS)
    assert "characters shortened to save context" in old_result["content"]
    assert msgs[2]["content"][1] == before[2]["content"][1]  # short results stay as they are
    assert msgs[2]["content"][2] == before[2]["content"][2]  # messages are never cut
    assert msgs[1]["content"][2]["input"] == {"path": "g",
                                              "content": "[5000 characters, shortened to save context]"}
    assert msgs[-6:] == before[-6:]  # the newest turns are intact
    assert msgs[0] == before[0]
    assert cc.shorten(msgs, keep_recent=6) == 0  # a second sweep finds nothing more


def test_cache_breakpoints_go_on_a_copy_of_the_two_newest_user_turns():
    msgs = conversation(turns=3, size=10)
    marked = cc.with_cache_breakpoints(msgs)
    flagged = [i for i, m in enumerate(marked) if "cache_control" in m["content"][-1]]
    assert flagged == [4, 6]
    assert not any("cache_control" in b for m in msgs for b in m["content"])


def test_context_windows_of_the_models():
    assert cc.context_window("claude-sonnet-5-5") == 1_000_000
    assert cc.context_window("claude-opus-4-6") == 1_000_000
    assert cc.context_window("claude-haiku-4-5-20251001") == 200_000
    assert cc.context_window("claude-sonnet-4-5") == 200_000
    assert cc.context_window("some-new-model") == 200_000


async def test_a_long_conversation_is_shortened_and_stays_valid(api, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "big.txt").write_text("line of a big file\n" * 500)  # ~9500 characters
    reads = [Turn([tool("read_file", path="big.txt")], input_tokens=500 + 3000 * n)
             for n in range(6)]
    api.push("a", *reads, Turn([tool("finish", summary="read a lot")]))
    team = make_team(tmp_path, [claude_agent("a", sandbox_path="ws", context_window=20_000,
                                             max_tokens=2000)])
    engine, w, store = await run_to_end(team, tmp_path)

    assert engine.agents["a"].summary == "read a lot"
    notices = [e.data["text"] for e in w.find("notice", "a")]
    assert any("near the context limit" in n for n in notices), notices
    last = api.requests_of("a")[-1].body["messages"]
    assert_valid(last)
    results = [b for m in last for b in m["content"] if b["type"] == "tool_result"]
    assert len(results) == 6
    assert "shortened to save context" in results[0]["content"]
    assert "shortened" not in results[-1]["content"]
    assert len(results[0]["content"]) < 1000 < len(results[-1]["content"])
    await store.close()
