"""Task board benchmark: the engine's overhead per task transition.

A planner hands 200 tasks to 20 scripted agents (10 each, queued per agent; no review or
QA, so every task goes todo -> running -> done and each start sends the assignee a
message); each agent takes a task with wait_for_message and submits it with submit_task.
Baseline, in the same run: the same 20 agents doing the same tool calls on the same 200
messages handed out one at a time without a board (a feeder per agent sends each task as
a request and waits for the reply, which takes the place of submit_task).

overhead per transition = (board run - baseline run) / task transitions

Also the time spent inside the workflow's own code (submit_task's handler: the board's
transitions, their events and the next task's message), per transition: the part of the
overhead that does not depend on how the event loop interleaves 20 agents.

Usage: python benchmarks/bench_board.py [--tasks 200] [--agents 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config import TeamConfig  # noqa: E402
from engine.run import Engine  # noqa: E402
from memory.store import Store  # noqa: E402


def step(tool: str, **args) -> dict:
    return {"tool": tool, "args": args}


def board_team(tmp: Path, tasks: int, agents: int) -> TeamConfig:
    workers = [f"w{i}" for i in range(agents)]
    plan = [{"id": f"t{n}", "title": f"task {n}", "description": "do it",
             "assignee": workers[n % agents]} for n in range(tasks)]
    mine = {w: [p["id"] for p in plan if p["assignee"] == w] for w in workers}
    members = [{"id": "planner", "script": [step("create_tasks", tasks=plan),
                                            step("finish", summary="planned")]}]
    for w in workers:
        script = []
        for task_id in mine[w]:
            script += [step("wait_for_message", timeout=600),
                       step("submit_task", task_id=task_id, summary="done")]
        members.append({"id": w, "script": [*script, step("finish", summary="w")]})
    return TeamConfig.model_validate({
        "name": "board", "sandbox": {"backend": "local"}, "base_dir": tmp,
        "defaults": {"model": "scripted"}, "agents": members,
        "workflow": {"goal": "bench", "planner": "planner", "max_agents": 0}})


def baseline_team(tmp: Path, tasks: int, agents: int) -> TeamConfig:
    """The same work handed out one task at a time without a board: a feeder per agent
    sends each task as a request and waits for the agent's reply before the next."""
    members = []
    per = tasks // agents
    for i in range(agents):
        w, feeder = f"w{i}", f"f{i}"
        members.append({"id": feeder, "direct_communication": [w], "script": [
            *(step("send_message", to=w, text=f"task {n}: do it", wait_reply=True)
              for n in range(per)), step("finish", summary="fed")]})
        script = []
        for _ in range(per):
            script += [step("wait_for_message", timeout=600), step("reply", text="done")]
        members.append({"id": w, "script": [*script, step("finish", summary="w")]})
    return TeamConfig.model_validate({
        "name": "baseline", "sandbox": {"backend": "local"}, "base_dir": tmp,
        "defaults": {"model": "scripted"}, "agents": members})


#: seconds spent inside TaskFlow.submit (the board's own work), summed
INSIDE = [0.0]


def instrument() -> None:
    from engine.workflow.running import TaskFlow

    original = TaskFlow.submit

    async def submit(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            INSIDE[0] += time.perf_counter() - start

    TaskFlow.submit = submit


async def timed(team: TeamConfig, tmp: Path) -> tuple[float, int]:
    """Seconds from the first tool call (of a board: once the plan runs) to the last tool
    result, and the task events."""
    store = await Store.open(tmp / f"{team.name}-{time.monotonic_ns()}.db")
    engine = Engine(team, store, auto_approve=True)
    sub = engine.bus.subscribe(maxsize=1_000_000)
    first = last = 0.0
    transitions = 0

    async def drain() -> None:
        nonlocal first, last, transitions
        while True:
            ev = await sub.get()
            if ev is None:
                return
            for e in (ev, *sub.get_batch()):
                now = time.perf_counter()
                if (e.type == "tool_call" and not first and not team.workflow) or (
                        e.type == "workflow" and e.data.get("phase") == "running"):
                    first = now
                elif e.type == "tool_result":
                    last = now
                elif e.type == "task":
                    transitions += 1

    reader = asyncio.create_task(drain())
    await engine.start()
    status = await engine.wait()
    await reader
    await store.close()
    assert status == "finished", status
    return last - first, transitions


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--rounds", type=int, default=7)
    a = p.parse_args()
    instrument()
    boards, bases, moves, inside = [], [], 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            base = Path(tmp) / f"r{r}"
            INSIDE[0] = 0.0
            board, moves = await timed(board_team(base / "b", a.tasks, a.agents), base)
            inside.append(INSIDE[0])
            plain, _ = await timed(baseline_team(base / "p", a.tasks, a.agents), base)
            boards.append(board)
            bases.append(plain)
    board, plain = min(boards), min(bases)  # the least disturbed round of each (shared VM)
    print(f"{a.tasks} tasks across {a.agents} scripted agents, best of {a.rounds} rounds")
    print(f"  board run:    {board * 1000:8.1f} ms  ({moves} task transitions)")
    print(f"  baseline run: {plain * 1000:8.1f} ms  (the same tasks one at a time by request/reply, no board)")
    print(f"  engine overhead per task transition: {(board - plain) / moves * 1e6:7.1f} µs "
          f"({board / plain:.2f}x the baseline's time)")
    per_submit = min(inside) / a.tasks
    print(f"  inside the board's code per submit_task (done, then the agent's next task "
          f"started and sent): {per_submit * 1e6:6.1f} µs, {per_submit / 2 * 1e6:5.1f} µs "
          "per transition")


if __name__ == "__main__":
    asyncio.run(main())
