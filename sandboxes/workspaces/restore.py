"""Rollback: bring a workspace back to the tree of a checkpoint, through its sandbox.

Deletions, symlinks and modes are one shell script run as the sandbox user inside the
sandbox (`exec`); file contents go through the sandbox's `write_file` in Docker (bytes
exact) and through descriptor-relative writes (sandboxes/hostfs.py) on the local
backend.  The host never opens a workspace path by name.  `.git` and ignored files are
left alone, as checkpoints never hold them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from sandboxes import hostfs
from sandboxes.base import Sandbox, SandboxError
from sandboxes.workspaces.checkpoint import Tree
from sandboxes.workspaces.git import run_git
from sandboxes.workspaces.repo import EngineRepo

#: at most this much of a script per command (one `sh -c` argument is at most 128 KiB)
SCRIPT_BYTES = 64 * 1024


@dataclass
class RestorePlan:
    delete: list[bytes] = field(default_factory=list)
    write: list[tuple[bytes, str, str]] = field(default_factory=list)  # path, mode, sha
    link: list[tuple[bytes, bytes]] = field(default_factory=list)  # path, target

    @property
    def empty(self) -> bool:
        return not (self.delete or self.write or self.link)


def plan_restore(repo: EngineRepo, current: Tree, target: Tree) -> RestorePlan:
    plan = RestorePlan()
    for path in sorted(current.keys() - target.keys()):
        if current[path][0] != "160000":
            plan.delete.append(path)
    for path in sorted(target):
        mode, sha = target[path]
        if current.get(path) == (mode, sha) or mode == "160000":
            continue
        if mode == "120000":
            plan.link.append((path, blob(repo, sha)))
        else:
            plan.write.append((path, mode, sha))
    return plan


def blob(repo: EngineRepo, sha: str) -> bytes:
    return run_git(["cat-file", "blob", sha], git_dir=repo.git_dir).stdout


def _q(path: bytes) -> str:
    return shlex.quote("./" + path.decode("utf-8", "surrogateescape"))


def _prepare_script(plan: RestorePlan) -> str:
    """Deletions, then whatever stands where a file or link must go (a folder, an old
    link) is removed and its folder made."""
    lines = ["set -e"]
    lines += [f"rm -f -- {_q(p)}" for p in plan.delete]
    emptied = {p.rsplit(b"/", i)[0] for p in plan.delete for i in range(1, p.count(b"/") + 1)}
    for folder in sorted(emptied, key=lambda d: (-d.count(b"/"), d)):  # deepest first
        lines.append(f"rmdir -- {_q(folder)} 2>/dev/null || true")
    for path in [p for p, _, _ in plan.write] + [p for p, _ in plan.link]:
        q = _q(path)
        lines.append(f"if [ -d {q} ] && [ ! -L {q} ]; then rm -rf -- {q}; fi; rm -f -- {q}")
        if b"/" in path:
            lines.append(f"mkdir -p -- {_q(path.rsplit(b'/', 1)[0])}")
    for path, target in plan.link:
        lines.append(f"ln -s -- {shlex.quote(target.decode('utf-8', 'surrogateescape'))} {_q(path)}")
    return "\n".join(lines) + "\n"


def _modes_script(plan: RestorePlan) -> str:
    lines = ["set -e"]
    for path, mode, _ in plan.write:
        lines.append(f"chmod {'755' if mode == '100755' else '644'} -- {_q(path)}")
    return "\n".join(lines) + "\n"


async def apply_restore(sandbox: Sandbox, repo: EngineRepo, plan: RestorePlan) -> None:
    """Carry out ``plan`` in ``sandbox`` (started).  SandboxError if a step fails."""
    await _run(sandbox, _prepare_script(plan))
    for path, _mode, sha in plan.write:
        data = blob(repo, sha)
        if sandbox.kind == "docker":  # bytes exact: written as surrogate-escaped UTF-8
            await sandbox.write_file(path.decode("utf-8", "surrogateescape"), data.decode("utf-8", "surrogateescape"))
        else:
            hostfs.write_bytes(sandbox.spec.workspace, path.decode("utf-8", "surrogateescape"), data)
    if plan.write:
        await _run(sandbox, _modes_script(plan))


async def _run(sandbox: Sandbox, script: str) -> None:
    """Run ``script`` in pieces small enough for one `sh -c` argument."""
    lines = script.splitlines()[1:]
    while lines:
        piece, size = ["set -e"], 0
        while lines and (size < SCRIPT_BYTES or len(piece) == 1):
            size += len(lines[0]) + 1
            piece.append(lines.pop(0))
        result = await sandbox.exec("\n".join(piece) + "\n", 300)
        if result.exit_code != 0:
            raise SandboxError(f"restoring the workspace failed (exit {result.exit_code}): "
                               f"{result.output.strip()[-300:]}")
