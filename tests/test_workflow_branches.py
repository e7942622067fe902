"""Tasks on branches with `repo:` (real git): each task's branch is cut from the run's
integration branch when it starts, a done task is merged into it (later tasks start from
earlier results), a conflict blocks the task naming the files; and the demo runs the
same workflow without a repository."""

from __future__ import annotations

from pathlib import Path

import yaml

from engine import events as ev
from engine.cli import demo_path
from engine.loader import load_team
from engine.workflow.branches import integration_branch
from tests.engine_support import make_team, run_to_end, step
from tests.git_repos import make_repo, user_git
from tests.test_workflow import run_demo
from tests.workflow_support import last_task, one_task, planner, wait


async def test_the_demo_merges_each_done_task_into_the_integration_branch(tmp_path: Path) -> None:
    engine, watcher, store = await run_demo(tmp_path)
    await store.close()
    repo = engine.workspaces.user_repo
    integration = integration_branch(engine.run_id)
    files = user_git(repo, "ls-tree", "-r", "--name-only", integration).split()
    assert {"README.md", "greet.sh", "GREETING.md", "test_greet.sh"} <= set(files)
    assert "${1:-world}" in user_git(repo, "show", f"{integration}:greet.sh")  # attempt 2
    test = last_task(watcher, "test")
    assert test["branch"] == f"agentorch/{engine.run_id}/task/test"
    # the test task started from the earlier tasks' results: its cut holds greet.sh and docs
    cut_files = user_git(repo, "ls-tree", "-r", "--name-only", test["cut"]).split()
    assert {"greet.sh", "GREETING.md"} <= set(cut_files)
    # the reviewer saw the task's diff
    review = [e.data["text"] for e in watcher.events if e.type == ev.MESSAGE
              and e.data.get("purpose") == "review" and e.data.get("task_id") == "docs"][0]
    assert "+++ b/GREETING.md" in review
    assert not [e for e in watcher.events if e.type == ev.NOTICE and "both changed" in
                e.data.get("text", "")]  # files from the integration branch are no overlap


async def test_a_merge_conflict_blocks_the_task_naming_the_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"shared.txt": "one\n"})

    # both tasks must be cut from the same base before either merges, and the two submits
    # (and merges) come at once: bob writes on his task, tells ann and waits for her; ann
    # writes once she has both her task and bob's word (in either order), tells bob, submits
    def write(who: str) -> dict:
        return step("write_file", path="shared.txt", content=f"{who} was here\n")

    ann = {"id": "ann", "direct_communication": ["bob"], "script": [
        wait(), wait(), write("ann"), step("send_message", to="bob", text="written"),
        step("submit_task", task_id="a", summary="a")]}
    bob = {"id": "bob", "direct_communication": ["ann"], "script": [
        wait(), write("bob"), step("send_message", to="ann", text="written"), wait(),
        step("submit_task", task_id="b", summary="b")]}
    team = make_team(tmp_path, [planner(one_task("a", "ann"), one_task("b", "bob")), ann, bob],
                     repo=str(repo), workflow={"goal": "g", "planner": "planner"})
    engine, watcher, store = await run_to_end(team, tmp_path, auto_approve=True, timeout=60)
    await store.close()
    states = {t: last_task(watcher, t)["state"] for t in ("a", "b")}
    assert sorted(states.values()) == ["blocked", "done"]
    blocked = last_task(watcher, next(t for t, s in states.items() if s == "blocked"))
    assert "conflicts in shared.txt" in blocked["reason"]
    intr = watcher.find(ev.INTERRUPT, kind="task_blocked")[0]
    assert "shared.txt" in intr.data["prompt"]
    done = next(t for t, s in states.items() if s == "done")
    merged = user_git(repo, "show", f"{integration_branch(engine.run_id)}:shared.txt")
    assert merged == {"a": "ann was here", "b": "bob was here"}[done]
    assert (repo / "shared.txt").read_text() == "one\n"  # the user's tree is untouched


async def test_the_demo_runs_the_same_workflow_without_a_repository(tmp_path: Path) -> None:
    data = yaml.safe_load(demo_path().read_text())
    data.pop("repo")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(data))
    team = load_team(path, base_dir=tmp_path / "demo")
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=120, backend="local",
                                              auto_approve=True)
    await store.close()
    assert engine.workspaces is None
    final = {t: last_task(watcher, t) for t in ("greet", "docs", "test")}
    assert {t: (d["state"], d["attempt"]) for t, d in final.items()} == {
        "greet": ("done", 2), "docs": ("done", 1), "test": ("done", 2)}
    assert all(d["branch"] is None for d in final.values())
