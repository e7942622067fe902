"""A scheduled Claude agent (the fake Messages API, a manual clock): each firing is a new
turn of the same conversation, and a failed firing leaves the schedule running."""

from __future__ import annotations

from engine_support import make_team
from fake_anthropic import Turn, bad_request, claude_agent, fake_api_fixture, tool
from test_schedule import actions, next_wake, open_engine, settle

from engine import events as ev
from engine.schedules.clock import ManualClock

api = fake_api_fixture()


def texts(request) -> str:
    out = []
    for msg in request.body["messages"]:
        content = msg["content"]
        if isinstance(content, str):
            out.append(content)
            continue
        for block in content:
            out.append(block.get("text") or str(block.get("content") or ""))
    return "\n".join(out)


async def test_each_firing_is_a_new_turn_of_one_conversation(api, tmp_path):
    api.push("ag", Turn([tool("finish", "call-1", summary="first round")]),
             Turn([tool("finish", "call-2", summary="second round")]))
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [claude_agent("ag", schedule={"cron": "0 * * * *", "timezone": "UTC"},
                                             instructions_on_schedule="Check the queue.")])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    rt = engine.agents["ag"]
    await settle(engine, lambda: rt.status == ev.IDLE)
    assert api.requests_of("ag") == []  # asleep until its first firing
    for n in (1, 2):
        await next_wake(engine, clock)
        await settle(engine, lambda n=n: actions(w, "ag").count("completed") == n)
    first, second = api.requests_of("ag")
    assert "[schedule: ag firing #1," in texts(first) and "Check the queue." in texts(first)
    last_user = second.body["messages"][-1]["content"]
    assert last_user[0]["type"] == "tool_result" and last_user[0]["tool_use_id"] == "call-1"
    assert "[schedule: ag firing #2," in texts(second)
    assert len(second.body["messages"]) == len(first.body["messages"]) + 2  # one conversation
    results = [e.data["result"] for e in w.find(ev.SCHEDULE, "ag", action="completed")]
    assert results == ["first round", "second round"]
    await settle(engine, lambda: rt.status == ev.IDLE)
    await engine.stop()


async def test_a_failed_firing_is_recorded_and_the_next_one_runs(api, tmp_path):
    api.push("ag", bad_request(), Turn([tool("finish", summary="recovered")]))
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [claude_agent("ag", schedule={"cron": "0 * * * *", "timezone": "UTC"})])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await next_wake(engine, clock)
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "ag", kind="debug_request")))
    intr = w.find(ev.INTERRUPT, "ag", kind="debug_request")[0]
    await engine.answer(intr.data["id"], "stop")  # the API error stops this firing
    await settle(engine, lambda: "failed" in actions(w, "ag"))
    await settle(engine, lambda: engine.agents["ag"].status in (ev.IDLE, ev.OFFLINE))
    await next_wake(engine, clock)
    await settle(engine, lambda: "completed" in actions(w, "ag"))
    done = w.find(ev.SCHEDULE, "ag", action="completed")[0].data
    assert (done["firing"], done["result"]) == (2, "recovered")
    await engine.stop()


async def test_parallel_overlap_hands_a_busy_agent_the_next_firing_at_its_next_turn(api, tmp_path):
    api.push("ag", Turn([tool("ask_user", "call-q", question="which queue?")]),
             Turn([tool("finish", "call-f", summary="both rounds")]))
    clock = ManualClock(1_000_000_000)
    team = make_team(tmp_path, [claude_agent(
        "ag", schedule={"cron": "0 * * * *", "timezone": "UTC", "overlap": "parallel"},
        instructions_on_schedule="Check the queue.")])
    engine, w = await open_engine(team, tmp_path, clock)
    await engine.start()
    await next_wake(engine, clock)
    await settle(engine, lambda: bool(w.find(ev.INTERRUPT, "ag", kind="user_input")))
    await next_wake(engine, clock)  # busy with its question: delivered as a message
    await settle(engine, lambda: actions(w, "ag").count("fired") == 2)
    second = w.find(ev.SCHEDULE, "ag", action="fired")[1].data
    assert second["parallel"] is True and second["firing"] == 2
    await engine.answer(w.find(ev.INTERRUPT, "ag", kind="user_input")[0].data["id"], "main")
    await settle(engine, lambda: "completed" in actions(w, "ag"))
    assert "[schedule: ag firing #2," in texts(api.requests_of("ag")[1])
    done = w.find(ev.SCHEDULE, "ag", action="completed")
    assert [e.data["firing"] for e in done] == [1]  # one piece of work took both firings
    await settle(engine, lambda: engine.agents["ag"].status == ev.IDLE)
    await engine.stop()
