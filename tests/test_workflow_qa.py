"""QA runs where the agent being checked cannot reach: a fresh container of the same
image on a copy of the task's result taken by the engine, never the assignee's sandbox
(real Docker); on LOCAL a fresh temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker_support import require_docker

from engine import events as ev
from sandboxes.docker import TEST_IMAGE
from tests.engine_support import make_team, run_to_end, step
from tests.workflow_support import last_task, one_task, planner, wait

QA = "hostname; cat result.txt; echo qa > qa-was-here; ls -a"


def team(tmp_path: Path, backend: str, qa: str = QA):
    coder = {"id": "coder", "script": [
        wait(),
        step("write_file", path="result.txt", content="the answer is 42"),
        step("run_command", command="hostname > mine.txt"),
        step("submit_task", task_id="t1", summary="answered"),
        step("finish", summary="c")]}
    return make_team(tmp_path, [planner(one_task()), coder],
                     workflow={"goal": "g", "planner": "planner", "qa": qa},
                     sandbox={"backend": backend, "image": TEST_IMAGE})


def check(engine, watcher, tmp_path: Path) -> str:
    final = last_task(watcher, "t1")
    assert final["state"] == "done", final
    out = final["qa_output"]
    assert "the answer is 42" in out and "mine.txt" in out  # a copy of the workspace
    workspace = engine.workspace("coder")
    assert not (workspace / "qa-was-here").exists()  # never ran in the assignee's tree
    return out


@pytest.mark.docker
async def test_qa_runs_in_a_fresh_container_on_a_copy(tmp_path: Path) -> None:
    require_docker()
    engine, watcher, store = await run_to_end(team(tmp_path, "docker"), tmp_path, timeout=120,
                                              auto_approve=True)
    await store.close()
    out = check(engine, watcher, tmp_path)
    coder_host = (engine.workspace("coder") / "mine.txt").read_text().strip()
    assert out.splitlines()[0] == "qa-t1" != coder_host
    assert watcher.find(ev.WORKFLOW, phase="done")


async def test_qa_on_local_runs_in_a_fresh_temporary_directory(tmp_path: Path) -> None:
    engine, watcher, store = await run_to_end(team(tmp_path, "local"), tmp_path,
                                              auto_approve=True)
    await store.close()
    check(engine, watcher, tmp_path)


async def test_qa_that_nests_folders_thousands_deep_is_cleaned_up(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """A QA command (the project's own tests, or what the agent made them do) can leave
    folders nested past Python's recursion limit in the copy: the task still ends, and
    the copy goes (shutil.rmtree raised RecursionError there)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    nest = "i=0; while [ $i -lt 1500 ]; do mkdir d && cd d || exit 1; i=$((i+1)); done; echo nested"
    engine, watcher, store = await run_to_end(team(tmp_path, "local", nest), tmp_path,
                                              auto_approve=True)
    await store.close()
    final = last_task(watcher, "t1")
    assert final["state"] == "done" and "nested" in final["qa_output"], final
    assert not list((tmp_path / "tmp").glob("agentorch-qa-*"))
