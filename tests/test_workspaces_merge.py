"""`diff` and `merge` on a real repository after a real run (local backend)."""

from __future__ import annotations

import asyncio

import pytest
from engine_support import make_team, run_to_end, step
from git_repos import make_repo, user_git

from engine.cli import main


def run_team(tmp_path, script, **team):
    """A finished run of agent `a` playing ``script`` on a fresh repository."""
    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n", "src/app.py": "x = 1\n"})
    t = make_team(tmp_path, [{"id": "a", "script": script}], repo="proj", **team)

    async def go():
        engine, _w, store = await run_to_end(t, tmp_path)
        await store.close()
        return engine.run_id

    return repo, asyncio.run(go())


def cli(tmp_path, *args: str) -> int:
    return main([*args, "--db", str(tmp_path / "state.db")])




def test_diff_shows_exactly_the_change(tmp_path, capfdbinary):
    repo, run_id = run_team(tmp_path, [step("write_file", path="src/app.py", content="x = 2\n")])
    assert cli(tmp_path, "diff", run_id, "a") == 0
    out = capfdbinary.readouterr().out.decode()
    assert "--- a/src/app.py\n+++ b/src/app.py\n" in out
    assert "-x = 1\n+x = 2\n" in out and "README" not in out
    assert cli(tmp_path, "diff", run_id, "a", "--stat") == 0
    assert "src/app.py | 2 +-" in capfdbinary.readouterr().out.decode()


def test_merge_fast_forwards_the_checked_out_branch_and_its_tree(tmp_path, capsys):
    repo, run_id = run_team(tmp_path, [step("write_file", path="new.txt", content="new\n")])
    assert cli(tmp_path, "merge", run_id, "a") == 0
    assert "fast-forward" in capsys.readouterr().out
    assert (repo / "new.txt").read_text() == "new\n"
    assert user_git(repo, "status", "--porcelain") == ""


def test_merge_commit_and_squash_when_the_base_moved_on(tmp_path, capsys):
    repo, run_id = run_team(tmp_path, [step("write_file", path="new.txt", content="new\n")])
    (repo / "other.txt").write_text("mine\n")
    user_git(repo, "add", "other.txt")
    user_git(repo, "commit", "-qm", "mine")
    user_git(repo, "branch", "copy")
    assert cli(tmp_path, "merge", run_id, "a") == 0
    assert "merge commit" in capsys.readouterr().out
    assert len(user_git(repo, "log", "-1", "--format=%P").split()) == 2
    assert (repo / "new.txt").exists() and user_git(repo, "status", "--porcelain") == ""
    # into a branch that is not checked out: the ref moves, the tree stays on main
    assert cli(tmp_path, "merge", run_id, "a", "--squash", "--into", "copy") == 0
    assert "squash" in capsys.readouterr().out
    assert len(user_git(repo, "log", "-1", "--format=%P", "copy").split()) == 1
    assert user_git(repo, "show", "copy:new.txt") == "new"


def test_a_dirty_tree_is_refused_and_nothing_changes(tmp_path, capsys):
    repo, run_id = run_team(tmp_path, [step("write_file", path="new.txt", content="new\n")])
    (repo / "README.md").write_text("edited, not committed\n")
    before = user_git(repo, "rev-parse", "HEAD")
    assert cli(tmp_path, "merge", run_id, "a") == 1
    err = capsys.readouterr().err
    assert "uncommitted changes" in err and "Traceback" not in err
    assert user_git(repo, "rev-parse", "HEAD") == before and not (repo / "new.txt").exists()


def test_a_conflict_changes_nothing_and_names_the_files(tmp_path, capsys):
    repo, run_id = run_team(tmp_path, [step("write_file", path="src/app.py", content="x = 2\n")])
    (repo / "src/app.py").write_text("x = 3\n")
    user_git(repo, "commit", "-qam", "mine")
    before = user_git(repo, "rev-parse", "HEAD")
    assert cli(tmp_path, "merge", run_id, "a") == 1
    err = capsys.readouterr().err
    assert "conflicts in 1 file(s); nothing was changed" in err and "src/app.py" in err
    assert user_git(repo, "rev-parse", "HEAD") == before
    assert (repo / "src/app.py").read_text() == "x = 3\n"
    assert user_git(repo, "status", "--porcelain") == ""


def test_unknown_agent_or_run_without_repo_is_one_sentence(tmp_path, capsys):
    repo, run_id = run_team(tmp_path, [step("write_file", path="n", content="n")])
    assert cli(tmp_path, "diff", run_id, "zz") == 1
    assert "has no agent 'zz'; agents: a" in capsys.readouterr().err


def test_diff_of_a_run_without_repo_says_so(tmp_path, capsys):
    t = make_team(tmp_path, [{"id": "a", "script": [step("write_file", path="n", content="n")]}])

    async def go():
        engine, _w, store = await run_to_end(t, tmp_path)
        await store.close()
        return engine.run_id

    run_id = asyncio.run(go())
    assert cli(tmp_path, "diff", run_id, "a") == 1
    assert "its team has no `repo:`" in capsys.readouterr().err


async def test_headless_merge_while_the_run_goes_on(tmp_path):
    from engine_support import start

    from engine.recording import ControlError

    repo = make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    t = make_team(tmp_path, [{"id": "a", "script": [
        step("write_file", path="live.txt", content="live\n"),
        step("wait_for_message", timeout=60)]}], repo="proj")
    engine, w, store = await start(t, tmp_path)
    try:
        await w.wait_for("checkpoint", "a")
        await engine.handle_command({"type": "merge", "agent": "a"})
        merged = await w.wait_for("merged", "a")
        assert merged.data["how"] == "fast-forward" and merged.data["into"] == "main"
        assert (repo / "live.txt").read_text() == "live\n"
        assert user_git(repo, "status", "--porcelain") == ""
        (repo / "README.md").write_text("dirty\n")
        with pytest.raises(ControlError, match="uncommitted changes"):
            await engine.handle_command({"type": "merge", "agent": "a"})
        with pytest.raises(ControlError, match="unknown agent"):
            await engine.handle_command({"type": "merge", "agent": "zz"})
    finally:
        await engine.stop()
        await store.close()


async def test_headless_merge_without_repo_is_refused(tmp_path):
    from engine_support import start

    from engine.recording import ControlError

    t = make_team(tmp_path, [{"id": "a", "script": [step("wait_for_message", timeout=60)]}])
    engine, w, store = await start(t, tmp_path)
    try:
        with pytest.raises(ControlError, match="needs a team with `repo:`"):
            await engine.handle_command({"type": "merge", "agent": "a"})
    finally:
        await engine.stop()
        await store.close()


def test_diff_between_two_checkpoints(tmp_path, capfdbinary):
    repo, run_id = run_team(tmp_path, [step("write_file", path="a.txt", content="1\n"),
                                       step("write_file", path="b.txt", content="2\n")])
    db = ["--db", str(tmp_path / "state.db")]
    er_first = subprocess_events(tmp_path, run_id)[0]
    assert main(["diff", run_id, "a", "--from", er_first, *db]) == 0
    out = capfdbinary.readouterr().out.decode()
    assert "b.txt" in out and "a.txt" not in out
    assert main(["diff", run_id, "a", "--to", er_first, "--stat", *db]) == 0
    out = capfdbinary.readouterr().out.decode()
    assert "a.txt" in out and "b.txt" not in out
    assert main(["diff", run_id, "a", "--from", "nope", *db]) == 1
    assert "is not a checkpoint of a" in capfdbinary.readouterr().err.decode()


def subprocess_events(tmp_path, run_id) -> list[str]:
    """The commits of the run's checkpoint events, in order (from the store, as a script would)."""
    import json
    import sqlite3

    conn = sqlite3.connect(tmp_path / "state.db")
    rows = conn.execute("SELECT data FROM events WHERE run_id=? AND type='checkpoint' ORDER BY seq",
                        (run_id,)).fetchall()
    conn.close()
    return [json.loads(d)["commit"] for (d,) in rows]


def test_merge_then_push_to_a_remote(tmp_path, capsys):
    repo, run_id = run_team(tmp_path, [step("write_file", path="pushed.txt", content="p\n")])
    remote = tmp_path / "remote.git"
    user_git(tmp_path, "init", "-q", "--bare", str(remote))
    user_git(repo, "remote", "add", "origin", str(remote))
    assert cli(tmp_path, "merge", run_id, "a", "--push", "origin") == 0
    assert "pushed main to origin" in capsys.readouterr().out
    assert user_git(remote, "show", "main:pushed.txt") == "p"
    assert cli(tmp_path, "merge", run_id, "a", "--push", "nowhere") == 1
    assert "git push failed" in capsys.readouterr().err
