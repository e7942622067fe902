"""Checkpoints of a workspace without an engine: a real engine repository, a real clone,
and an oracle (every file of the workspace read again from scratch) to compare each
checkpoint's tree with."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest
from git_repos import make_repo

from sandboxes.base import SandboxSpec
from sandboxes.local import LocalSandbox
from sandboxes.workspaces.checkpoint import Checkpointer, blob_sha, read_tree
from sandboxes.workspaces.lister import supervised_changes
from sandboxes.workspaces.repo import EngineRepo
from sandboxes.workspaces.snapshot import Changes, local_changes


def clone(tmp_path: Path, files: dict[str, str], agent: str = "a") -> tuple[EngineRepo, Path]:
    return clone_of(tmp_path, make_repo(tmp_path / "proj", files), agent)


def clone_of(tmp_path: Path, user: Path, agent: str = "a") -> tuple[EngineRepo, Path]:
    """Agent ``agent``'s clone of the user's repository ``user`` (run "r")."""
    repo = EngineRepo.for_project(tmp_path / "state", user)
    base = repo.fetch_base(user / ".git", "main")
    ws = tmp_path / f"ws-{agent}"
    repo.clone_into(ws, "r", agent, base, None)
    return repo, ws


def checkpointer(repo: EngineRepo, agent: str = "a") -> Checkpointer:
    return Checkpointer(repo, "r", agent)


#: the two ways the local backend reads a workspace: the supervisor binary's lister on
#: the host (sandboxes/supervisor/snapshot.c), or the walk in Python without it
WALKERS = ["supervisor", "python"]


class LocalWalker:
    """``changes(known)`` of one workspace by one of WALKERS."""

    def __init__(self, ws: Path, kind: str) -> None:
        self.ws, self.kind = ws, kind
        self.sandbox = LocalSandbox(SandboxSpec(backend="local", workspace=ws, run_id="r", agent_id="a"))

    async def changes(self, known, since: int = 0) -> Changes:
        if self.kind == "python":
            return local_changes(str(self.ws), known)
        changes = await supervised_changes(self.sandbox.run_supervisor, str(self.ws), known, since)
        assert changes is not None, "the supervisor's lister did not run"
        return changes

    async def close(self) -> None:
        await self.sandbox.stop()


@pytest.fixture(params=WALKERS, name="walker")
async def walker_fixture(request, tmp_path):
    """A LocalWalker of ``tmp_path / "ws-a"`` (where ``clone`` puts agent a's clone)."""
    walker = LocalWalker(tmp_path / "ws-a", request.param)
    yield walker
    await walker.close()


def full_tree(ws: Path) -> dict[bytes, tuple[str, str]]:
    """What a checkpoint of ``ws`` must hold: every file and link, read now."""
    changes = local_changes(str(ws), {})
    assert not changes.unreadable, changes.unreadable
    return {e.path: (e.mode, blob_sha(e.data)) for e in changes.entries if e.data is not None}


def committed(repo: EngineRepo, commit: str) -> dict[bytes, tuple[str, str]]:
    return read_tree(repo, commit)


class Agent:
    """Random changes of every kind a checkpoint must see, inside one workspace."""

    NAMES = ["a", "b", "c", "d"]

    def __init__(self, ws: Path, seed: int) -> None:
        self.ws = ws
        self.rng = random.Random(seed)

    def paths(self) -> list[Path]:
        out = []
        for root, dirs, files in os.walk(self.ws):
            dirs[:] = [d for d in dirs if d != ".git"]
            out += [Path(root) / f for f in files + dirs]
        return out

    def new_path(self) -> Path:
        parts = [self.rng.choice(self.NAMES) for _ in range(self.rng.randint(1, 3))]
        return self.ws.joinpath(*parts)

    def act(self) -> str:
        kind = self.rng.choice(["write", "same_size", "delete", "rename", "chmod", "link",
                                "file_to_dir", "dir_to_file", "touch_back"])
        existing = [p for p in self.paths() if not p.is_symlink()]
        files = [p for p in existing if p.is_file()]
        folders = [p for p in existing if p.is_dir()]
        target = self.new_path()
        if kind == "write" or not files:
            self._write(target, os.urandom(self.rng.randint(0, 40)))
            return f"write {target}"
        victim = self.rng.choice(files)
        if kind == "same_size":  # right after a checkpoint: the same tick, the same size
            data = victim.read_bytes()
            victim.write_bytes(bytes(b ^ 1 for b in data) if data else b"")
        elif kind == "touch_back":  # content changed, mtime put back as it was
            st = victim.stat()
            victim.write_bytes(bytes(b ^ 2 for b in victim.read_bytes()))
            os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        elif kind == "delete":
            victim.unlink()
        elif kind == "rename":
            self._move(victim, target)
        elif kind == "chmod":
            victim.chmod(victim.stat().st_mode ^ stat.S_IXUSR)
        elif kind == "link":
            self._clear(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(self.rng.choice(["../x", "/etc/passwd", victim.name, "a" * 30]), target)
        elif kind == "file_to_dir":
            victim.unlink()
            self._write(victim / "inner", b"was a file")
        elif kind == "dir_to_file" and folders:
            folder = self.rng.choice(folders)
            _remove_tree(folder)
            folder.write_bytes(b"was a folder")
        return f"{kind} {victim}"

    def _write(self, path: Path, data: bytes) -> None:
        self._clear(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def _move(self, src: Path, dst: Path) -> None:
        if dst == src or src in dst.parents or dst in src.parents:
            return
        self._clear(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.rename(dst)

    def _clear(self, path: Path) -> None:
        """Make room for ``path``: a file or link on the way (or at it) goes."""
        for above in [*reversed(path.relative_to(self.ws).parents), path.relative_to(self.ws)]:
            here = self.ws / above
            if above != Path(".") and (here.is_symlink() or here.is_file()):
                here.unlink()
        if path.is_dir() and not path.is_symlink():
            _remove_tree(path)


def _remove_tree(path: Path) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            os.unlink(full) if os.path.islink(full) else os.rmdir(full)
    os.rmdir(path)
