"""`agentorch-tui clean` and the unmerged work in `runs`, on real git and a real SQLite
store after real runs (local backend; a failed start on a daemon treated as remote)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time

import pytest
from engine_support import make_team, run_to_end, start, step
from git_repos import make_repo, user_git

from engine.cli import main
from sandboxes.workspaces.repo import EngineRepo


def finished_run(tmp_path, agents=("a", "b"), repo_name="proj", fresh=True):
    if fresh:
        make_repo(tmp_path / repo_name, {"README.md": "hello\n"})
    team = make_team(tmp_path, [{"id": a, "script": [
        step("write_file", path=f"{a}.txt", content=a),
        step("run_command", command=f"echo output of {a}")]} for a in agents], repo=repo_name)

    async def go():
        engine, _w, store = await run_to_end(team, tmp_path)
        await store.close()
        return engine

    return asyncio.run(go())


def cli(tmp_path, *args: str) -> int:
    return main([*args, "--db", str(tmp_path / "state.db")])


def console_events(tmp_path, run_id: str) -> int:
    with sqlite3.connect(tmp_path / "state.db") as db:
        return db.execute("SELECT COUNT(*) FROM events WHERE run_id = ? AND type = 'console'",
                          (run_id,)).fetchone()[0]


def engine_refs(engine) -> list[str]:
    repo: EngineRepo = engine.workspaces.repo
    return [r for r in repo.git(["for-each-ref", "--format=%(refname)"]).splitlines()
            if engine.run_id in r]


def test_runs_shows_unmerged_work_and_clean_refuses_it(tmp_path, capsys) -> None:
    engine = finished_run(tmp_path)
    rid = engine.run_id
    assert cli(tmp_path, "runs") == 0
    assert "2 agent(s) with unmerged work: a, b" in capsys.readouterr().out
    assert cli(tmp_path, "clean", rid) == 1
    out = capsys.readouterr()
    assert "a, b have unmerged work" in out.err and "nothing was removed" in out.err
    assert engine.workspace("a").is_dir() and console_events(tmp_path, rid) > 0
    assert cli(tmp_path, "merge", rid, "a") == 0
    assert cli(tmp_path, "runs") == 0
    assert "1 agent(s) with unmerged work: b" in capsys.readouterr().out


def test_clean_after_merge_removes_clones_refs_and_console_but_keeps_branches(tmp_path, capsys):
    engine = finished_run(tmp_path, agents=("a",))
    rid, repo = engine.run_id, tmp_path / "proj"
    assert cli(tmp_path, "merge", rid, "a") == 0
    assert engine_refs(engine)
    capsys.readouterr()
    assert cli(tmp_path, "clean", rid) == 0
    out = capsys.readouterr().out
    assert "cleaned run" in out and "1 workspace(s)" in out and "console event(s)" in out
    assert not engine.workspace("a").exists()
    assert not (tmp_path / ".agentorch" / "workspaces" / rid).exists()
    assert engine_refs(engine) == [] and console_events(tmp_path, rid) == 0
    assert user_git(repo, "branch", "--list", f"agentorch/{rid}/a")  # stays
    assert (repo / "a.txt").read_text() == "a"  # the merged work is the user's
    assert cli(tmp_path, "export", rid) == 0  # the run's record is still readable
    assert cli(tmp_path, "clean", rid, "--branches") == 0
    assert not user_git(repo, "branch", "--list", f"agentorch/{rid}/a")


def test_force_cleans_unmerged_work_and_a_symlink_left_by_an_agent_is_not_followed(tmp_path,
                                                                                  capsys):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    engine = finished_run(tmp_path, agents=("a",))
    (engine.workspace("a") / "link").symlink_to(outside)
    assert cli(tmp_path, "clean", engine.run_id, "--force", "--branches") == 0
    assert not engine.workspace("a").exists()
    assert (outside / "keep.txt").read_text() == "mine"
    assert not user_git(tmp_path / "proj", "branch", "--list", "agentorch/*")


def test_older_than_picks_only_old_finished_runs(tmp_path, capsys) -> None:
    old = finished_run(tmp_path, agents=("a",))
    new = finished_run(tmp_path, agents=("a",), fresh=False)
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute("UPDATE runs SET finished = ? WHERE id = ?", (time.time() - 10 * 86400, old.run_id))
    assert cli(tmp_path, "clean", "--older-than", "7", "--force") == 0
    out = capsys.readouterr().out
    assert old.run_id in out and new.run_id not in out
    assert not old.workspace("a").exists() and new.workspace("a").is_dir()
    assert cli(tmp_path, "clean", "--older-than", "30") == 0
    assert "no run ended more than 30 days ago" in capsys.readouterr().out


def test_bad_input_is_one_sentence(tmp_path, capsys) -> None:
    finished_run(tmp_path, agents=("a",))
    assert cli(tmp_path, "clean") == 1
    assert "needs a RUN_ID or --older-than" in capsys.readouterr().err
    assert cli(tmp_path, "clean", "nosuchrun") == 1
    assert "no run 'nosuchrun'" in capsys.readouterr().err
    assert cli(tmp_path, "clean", "--older-than", "-1") == 1
    assert "days >= 0" in capsys.readouterr().err


def test_a_team_without_repo_only_loses_its_console_output(tmp_path, capsys) -> None:
    team = make_team(tmp_path, [{"id": "a", "script": [step("run_command", command="echo hi")]}])

    async def go():
        engine, _w, store = await run_to_end(team, tmp_path)
        await store.close()
        return engine

    engine = asyncio.run(go())
    (engine.workspace("a") / "mine.txt").write_text("stays")
    assert cli(tmp_path, "clean", engine.run_id) == 0
    assert "console event(s)" in capsys.readouterr().out
    assert (engine.workspace("a") / "mine.txt").exists()


async def test_a_live_run_is_never_touched_and_a_stopped_one_needs_force(tmp_path, capsys) -> None:
    make_repo(tmp_path / "proj")
    team = make_team(tmp_path, [{"id": "a", "script": [
        step("write_file", path="x.txt", content="x"), step("wait_for_message", timeout=30),
        step("finish", summary="ok")]}], repo="proj")
    engine, watcher, store = await start(team, tmp_path)
    try:
        await watcher.wait_for("checkpoint", "a")
        assert await asyncio.to_thread(cli, tmp_path, "clean", engine.run_id, "--force") == 1
        assert "still running" in capsys.readouterr().err
        assert engine.workspace("a").is_dir()
        await engine.stop()
    finally:
        await store.close()
    # stopped before its end: it can still be resumed, so only --force cleans it
    assert await asyncio.to_thread(cli, tmp_path, "clean", engine.run_id) == 1
    assert "can still be resumed" in capsys.readouterr().err
    assert await asyncio.to_thread(cli, tmp_path, "clean", engine.run_id, "--force") == 0
    assert not engine.workspace("a").exists()


def test_a_demo_runs_folder_is_its_own_so_its_workspaces_go(tmp_path, capsys) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "tui", "--demo", "--headless", "--auto-approve",
                           "--backend", "local", "--db", "state.db"], cwd=tmp_path,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / ".agentorch" / "demo").iterdir()
    assert (folder / "workspaces" / "coder").is_dir()
    assert main(["clean", "last", "--force", "--db", str(tmp_path / "state.db")]) == 0
    out = capsys.readouterr().out
    assert "5 workspace(s)" in out and "kept" not in out.replace("branches stay", "")
    assert not (folder / "workspaces" / "coder").exists()
    assert (folder / "repo" / ".git").is_dir()  # the demo's repository (and its branches) stay


def test_clean_removes_a_tree_nested_deeper_than_python_recurses(tmp_path, capsys):
    """An agent can leave folders nested thousands deep in its clone (a racer's `mv`
    onto an existing folder does): clean removes them, no RecursionError traceback."""
    engine = finished_run(tmp_path, agents=("a",))
    fd = os.open(engine.workspace("a"), os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    assert cli(tmp_path, "clean", engine.run_id, "--force") == 0
    assert not engine.workspace("a").exists()
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.docker
async def test_clean_removes_the_clones_a_failed_start_never_shipped_to_a_remote_daemon(tmp_path,
                                                                                      capsys):
    """`sandbox.remote: true` (this machine's daemon, which works the same): the clone is
    made in `<state>/git/seeds/<run>/<agent>` and the container is refused (memory under
    Docker's minimum) before it is shipped; `clean` removes it, never following a symlink."""
    from docker_support import TEST_IMAGE, require_docker

    from engine.run import Engine
    from memory.store import Store
    from sandboxes.base import SandboxError

    require_docker()
    make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    team = make_team(tmp_path, [{"id": "a", "resources": {"memory": "1m"}}], repo="proj",
                     sandbox={"backend": "docker", "image": TEST_IMAGE, "remote": True})
    store = await Store.open(tmp_path / "state.db")
    engine = Engine(team, store)
    with pytest.raises(SandboxError, match="could not create the container for agent a"):
        await engine.start()
    await store.close()
    seeds = tmp_path / "git" / "seeds" / engine.run_id
    assert (seeds / "a" / "README.md").is_file(), "the start failed before shipping"
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (seeds / "a" / "link").symlink_to(outside)
    other = tmp_path / "git" / "seeds" / "another-run" / "a"
    other.mkdir(parents=True)
    assert await asyncio.to_thread(cli, tmp_path, "clean", engine.run_id) == 0
    out = capsys.readouterr().out
    assert "1 clone(s) never shipped to the Docker daemon" in out, out
    assert not seeds.exists()
    assert (outside / "keep.txt").read_text() == "mine"
    assert other.is_dir(), "another run's seeds stay"
