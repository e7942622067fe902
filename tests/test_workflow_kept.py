"""Starting a task cuts its branch and gives the assignee that tree: what the agent had
written before (here, a file written while it had no task) is kept at a ref, listed with
its checkpoints, said in a notice, and `rollback` brings it back (real git)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine import events as ev
from engine.cli import main
from engine.workspace_diff import checkpoints
from sandboxes.workspaces.git import git_text
from sandboxes.workspaces.repo import EngineRepo, kept_ref
from tests.engine_support import make_team, run_to_end, step
from tests.git_repos import make_repo
from tests.workflow_support import last_task, one_task, planner, wait


def test_work_written_before_a_task_is_kept_and_can_be_rolled_back(tmp_path: Path,
                                                                   capsys) -> None:
    make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    # ann writes before she has a task and tells the planner, who only then plans
    ann = {"id": "ann", "direct_communication": ["planner"], "script": [
        step("write_file", path="notes.txt", content="my early notes\n"),
        step("send_message", to="planner", text="ready"),
        wait(), step("write_file", path="task.txt", content="task work\n"),
        step("submit_task", task_id="t1", summary="done")]}
    team = make_team(tmp_path, [planner(one_task("t1", "ann"), extra=[wait()]), ann],
                     repo="proj", workflow={"goal": "g", "planner": "planner"})

    async def go():
        engine, watcher, store = await run_to_end(team, tmp_path, auto_approve=True,
                                                  timeout=60)
        await store.close()
        return engine.run_id, watcher

    run_id, watcher = asyncio.run(go())
    assert last_task(watcher, "t1")["state"] == "done"
    er = EngineRepo.for_project(tmp_path, tmp_path / "proj")
    kept = er.ref(kept_ref(run_id, "ann", "t1"))
    assert kept is not None  # still referenced: it survives gc
    assert git_text(["show", f"{kept}:notes.txt"], git_dir=er.git_dir) == "my early notes"
    notices = [e.data for e in watcher.events if e.type == ev.NOTICE and e.data.get("kept")]
    assert len(notices) == 1 and kept[:12] in notices[0]["text"]
    assert "(1 file)" in notices[0]["text"] and "rollback" in notices[0]["text"], notices
    assert kept in [c.commit for c in checkpoints(er, run_id, "ann")]  # in the list
    ws = team.workspace_of(team.agent("ann"), run_id)
    assert not (ws / "notes.txt").exists()  # the cut replaced it
    assert main(["rollback", run_id, "ann", kept[:12], "--db",
                 str(tmp_path / "state.db")]) == 0, capsys.readouterr()
    assert (ws / "notes.txt").read_text() == "my early notes\n"
