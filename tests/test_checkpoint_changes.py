"""Incremental checkpoints (local backend): a walk reads only files whose signature
changed, and a checkpoint rewrites only the changed folders' trees, yet every
checkpoint holds exactly what the workspace holds (compared with reading every file
again), whatever changed: deletions, renames, the exec bit, symlinks, a file replaced
by a folder and back, same-size rewrites in the same clock tick, mtimes put back."""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest
from checkpoint_support import WALKERS, Agent, checkpointer, clone, clone_of, committed, full_tree, walker_fixture  # noqa: F401 - the walker fixture
from git_repos import make_repo, user_git

from sandboxes.hostfs import remove_tree
from sandboxes.supervisor import supervisor_path
from sandboxes.workspaces.git import git_text, run_git
from sandboxes.workspaces.lister import supervised_changes
from sandboxes.workspaces.snapshot import Changes, local_changes

NOBODY = 65534


@pytest.mark.parametrize("seed", range(4))
async def test_every_checkpoint_holds_exactly_the_workspace(tmp_path, seed, walker):
    repo, ws = clone(tmp_path, {"README.md": "hello\n", "src/app.py": "x = 1\n", "src/lib/u.py": "u\n"})
    cpr = checkpointer(repo)
    agent = Agent(ws, seed)
    done = []
    for _ in range(40):
        for _ in range(agent.rng.randint(1, 3)):
            done.append(agent.act())
        cp = cpr.take(await walker.changes(cpr.signatures, cpr.horizon), "step")
        head = cp.commit if cp else cpr.parent
        assert committed(repo, head) == full_tree(ws), done[-3:]
        assert cpr.tree == full_tree(ws)
    fsck = run_git(["fsck", "--strict", "--no-dangling"], git_dir=repo.git_dir, check=False)
    assert fsck.returncode == 0, fsck.stderr


def test_a_one_file_change_reads_one_file_and_names_one_path(tmp_path):
    files = {f"pkg{i // 10}/m{i}.py": f"{i}\n" for i in range(100)}
    repo, ws = clone(tmp_path, files)
    cpr = checkpointer(repo)
    assert cpr.take(local_changes(str(ws), cpr.signatures, racy_ns=0), "first") is None
    (ws / "pkg3" / "m31.py").write_text("changed\n")
    changes = local_changes(str(ws), cpr.signatures, racy_ns=0)
    assert [e.path for e in changes.entries] == [b"pkg3/m31.py"], "only the changed file is read"
    cp = cpr.take(changes, "one")
    assert cp is not None and cp.changed == ["pkg3/m31.py"]
    # only the changed folder and the root got new trees: the others keep their ids
    before = git_text(["ls-tree", cp.commit + "~1"], git_dir=repo.git_dir).splitlines()
    after = git_text(["ls-tree", cp.commit], git_dir=repo.git_dir).splitlines()
    assert [a for a in after if a not in before] == [next(a for a in after if a.endswith("pkg3"))]
    assert git_text(["cat-file", "-p", f"{cp.commit}:pkg3/m31.py"], git_dir=repo.git_dir) == "changed"
    assert cpr.take(local_changes(str(ws), cpr.signatures, racy_ns=0), "none") is None


async def test_a_file_changed_right_after_a_walk_is_read_again(tmp_path, walker):
    """A rewrite in the same clock tick as the walk that saw the file can keep its whole
    signature; files changed that recently never match, so the next walk reads them."""
    repo, ws = clone(tmp_path, {"f.txt": "0000\n"})
    (ws / "f.txt").write_text("1111\n")
    first = await walker.changes({})
    again = await walker.changes(first.signatures)
    assert [e.path for e in again.entries] == [b"f.txt"], "racily clean: read again"
    # the rule is what does it: without it, an unchanged signature is trusted
    trusting = local_changes(str(ws), {}, racy_ns=0)
    assert local_changes(str(ws), trusting.signatures, racy_ns=0).entries == []


def python_walk_as(uid: int, ws: Path):
    """``local_changes`` in a forked child that became ``uid`` (the engine as a user
    without root, whose agent shares its uid on the local backend)."""

    async def walk(known, _since: int = 0) -> Changes:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the walk, then _exit
            try:
                os.close(r)
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                with os.fdopen(w, "wb") as out:
                    out.write(pickle.dumps(local_changes(str(ws), known)))
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        return pickle.loads(data)

    return walk


def supervisor_walk_as(uid: int, ws: Path, scratch: Path):
    """The supervisor's ``--list`` / ``--read`` run as ``uid`` (a copy of the binary it
    may execute)."""
    binary = scratch / "supervisor"
    shutil.copy(supervisor_path(), binary)

    async def run(args: list[str], stdin: bytes | None = None, timeout: float = 60):
        proc = await asyncio.create_subprocess_exec(
            str(binary), *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            user=uid, group=uid, extra_groups=[])
        out, _ = await asyncio.wait_for(proc.communicate(stdin or b""), timeout)
        return proc.returncode, out

    async def walk(known, since: int = 0) -> Changes:
        changes = await supervised_changes(run, str(ws), known, since)
        assert changes is not None
        return changes

    return walk


@pytest.fixture
def scratch():
    path = Path(tempfile.mkdtemp(prefix="ckpt-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to walk as another uid")
@pytest.mark.parametrize("kind", WALKERS)
async def test_a_file_the_agent_made_unreadable_keeps_its_last_checkpointed_version(scratch, kind):
    """An unreadable file or folder is neither read nor taken for deleted: the
    checkpoint keeps what it had there and says so; once readable again, it is read."""
    repo, ws = clone(scratch, {"secret.txt": "v1\n", "d/inner.txt": "in\n", "open.txt": "o\n"})
    walk = python_walk_as(NOBODY, ws) if kind == "python" else supervisor_walk_as(NOBODY, ws, scratch)
    cpr = checkpointer(repo)
    assert cpr.take(await walk(cpr.signatures, cpr.horizon), "first") is None
    (ws / "secret.txt").write_text("v2\n")
    (ws / "open.txt").write_text("o2\n")
    (ws / "d" / "inner.txt").write_text("in2\n")
    os.chmod(ws / "secret.txt", 0)
    os.chmod(ws / "d", 0)
    cp = cpr.take(await walk(cpr.signatures, cpr.horizon), "unreadable")
    assert cp is not None and cp.changed == ["open.txt"] and cp.unreadable == ["d", "secret.txt"]
    show = lambda spec: git_text(["cat-file", "-p", spec], git_dir=repo.git_dir)  # noqa: E731
    assert show(f"{cp.commit}:secret.txt") == "v1" and show(f"{cp.commit}:d/inner.txt") == "in"
    assert "Not readable" in show(cp.commit)
    os.chmod(ws / "secret.txt", 0o644)
    os.chmod(ws / "d", 0o755)
    cp = cpr.take(await walk(cpr.signatures, cpr.horizon), "readable again")
    assert cp is not None and cp.changed == ["d/inner.txt", "secret.txt"] and not cp.unreadable
    assert committed(repo, cp.commit) == full_tree(ws)


async def test_strange_names_and_a_submodule_folder(tmp_path, walker):
    """Names with bytes that are not UTF-8, newlines, quotes and spaces go into the
    trees exactly; files inside a submodule's folder belong to another repository."""
    user = make_repo(tmp_path / "proj", {"README.md": "hello\n"})
    head = user_git(user, "rev-parse", "HEAD")
    user_git(user, "update-index", "--add", "--cacheinfo", f"160000,{head},sub")
    user_git(user, "commit", "-qm", "a submodule")
    repo, ws = clone_of(tmp_path, user)
    cpr = checkpointer(repo)
    names = [b"caf\xe9.txt", b"new\nline", b'q"uote', b"sp ace", b"back\\slash", b"deep/er/x"]
    for name in names:
        path = os.path.join(os.fsencode(ws), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(name)
    os.makedirs(ws / "sub", exist_ok=True)
    (ws / "sub" / "inside.txt").write_text("the submodule's\n")
    cp = cpr.take(await walker.changes(cpr.signatures, cpr.horizon), "names")
    tree = committed(repo, cp.commit)
    expected = {p: v for p, v in full_tree(ws).items() if not p.startswith(b"sub/")}
    assert tree == {**expected, b"sub": ("160000", head)}
    for name in names:
        show = run_git(["cat-file", "blob", f"{cp.commit}:{os.fsdecode(name)}"], git_dir=repo.git_dir)
        assert show.stdout == name
    fsck = run_git(["fsck", "--strict", "--no-dangling"], git_dir=repo.git_dir, check=False)
    assert fsck.returncode == 0, fsck.stderr


def test_a_change_with_a_file_and_a_folder_at_one_path_is_refused():
    from sandboxes.workspaces.objects import TreeCache, TreeConflict

    cache = TreeCache({b"": {b"d": ("40000", "0" * 40)}, b"d": {b"x": ("100644", "1" * 40)}})
    with pytest.raises(TreeConflict, match="both a file and a folder at d"):
        cache.apply({b"d": ("100644", "2" * 40)}, objects=None)  # type: ignore[arg-type]


def test_lister_output_cut_short_or_answering_what_was_not_asked_is_not_trusted():
    from sandboxes.workspaces.lister import _take_answers, parse_list

    full = b"a\x001:2:3:4:100644\x00d\x00!\x00\x00end\x0012\x00a\x00f\x00100644\x001\x00x"
    listing = parse_list(full)
    assert (listing.signatures, listing.unreadable, listing.start) == ({b"a": b"1:2:3:4:100644"}, [b"d"], 12)
    assert listing.answers == b"a\x00f\x00100644\x001\x00x"
    assert parse_list(b"\x00end\x007\x00").signatures == {}
    for cut in (full[:28], full[:7], b"a\x00sig\x00extra\x00\x00end\x001\x00", b"a\x00end\x00", b""):
        assert parse_list(cut) is None, cut
    changes = Changes({b"a": b"s", b"b": b"s"})
    answers = b"a\x00f\x00100755\x002\x00hib\x00f\x00100644\x00" + b"9\x00short"
    asked = {b"a", b"b"}
    assert _take_answers(answers, asked, changes) == []
    assert [(e.path, e.mode, e.data) for e in changes.entries] == [(b"a", "100755", b"hi")]
    assert asked == {b"b"}, "a cut-short answer is asked again, never half taken"
    changes, asked = Changes({b"a": b"s"}), {b"a"}
    _take_answers(b"x\x00f\x000\x001\x00!a\x00e13\x000\x000\x00", asked, changes)
    assert asked == {b"a"} and not changes.entries, "an answer not asked for ends the reading"
    assert _take_answers(b"x\x00f\x000\x001\x00!a\x00e13\x000\x000\x00", asked, changes, others=True) == [b"a"]


async def test_folders_nested_thousands_deep_are_walked(tmp_path, walker):
    """An agent nesting folders 1,500 deep: no recursion limit, the file at the bottom is
    in the checkpoint (one descriptor per level)."""
    repo, ws = clone(tmp_path, {"README.md": "hello\n"})
    fd = os.open(ws, os.O_RDONLY)
    for _ in range(1500):
        os.mkdir("a", dir_fd=fd)
        deeper = os.open("a", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    with os.fdopen(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
        f.write("at the bottom\n")
    os.close(fd)
    try:
        cpr = checkpointer(repo)
        cp = cpr.take(await walker.changes(cpr.signatures, cpr.horizon), "deep")
        assert cp is not None and cp.changed == ["a/" * 1500 + "deep.txt"]
        assert committed(repo, cp.commit) == cpr.tree
    finally:  # pytest's clean-up of its temp folders (shutil.rmtree) cannot recurse this deep
        remove_tree(ws / "a")
