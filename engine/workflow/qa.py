"""QA: the workflow's `qa` command, run where the agent being checked cannot reach.

A fresh sandbox (same backend, image and limits as the assignee's) gets a copy of the
task's result taken by the engine: with Docker, the assignee's /workspace read through
the daemon's archive API and put into the new container (the host never walks the
agent's tree); on LOCAL (already unsandboxed), a copy in a fresh temporary directory;
with `repo:`, the task's branch as committed.  The assignee cannot change the test, the
Makefile or the runner that grades it: the copy is taken after it submitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sandboxes import SandboxError, create_sandbox
from sandboxes.hostfs import remove_tree

if TYPE_CHECKING:
    from engine.run import Engine
    from engine.workflow.board import Task
    from sandboxes.base import Sandbox

PREFIX = "workspace/"


async def run_qa(engine: Engine, task: Task, command: str, timeout: float) -> tuple[int, str]:
    """(exit code, output) of ``command`` on a copy of ``task``'s result."""
    rt = engine.agents.get(task.assignee or "")
    if rt is None:
        return 1, f"agentorch: {task.assignee} is not in the run; nothing to test"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", task.task_id)[:30]
    spec = engine.sandbox_spec(rt.config, engine.backends.get(rt.agent_id, "local"))
    tmp = Path(tempfile.mkdtemp(prefix=f"agentorch-qa-{slug}-"))
    spec = dataclasses.replace(spec, workspace=tmp, agent_id=f"qa-{slug}", disk=None, seed=None,
                               ephemeral=True)  # on a remote daemon: gone with its container
    qa = create_sandbox(spec)
    try:
        tree = None
        if engine.workspaces is not None and task.branch:
            from engine.workflow.branches import branch_archive

            tree = await branch_archive(engine, task)
        if qa.kind == "local":
            await asyncio.to_thread(_fill_local, rt.sandbox, tmp, tree)
            await qa.start()
        else:
            await qa.start()
            await asyncio.to_thread(_fill_docker, rt.sandbox, qa, tree)
        result = await qa.exec(command, timeout, None)
    except (SandboxError, OSError) as exc:
        return 1, f"agentorch: QA could not run: {exc}"
    finally:
        await qa.stop()
        await asyncio.to_thread(_discard, tmp)
    return result.exit_code, result.output


def _discard(tmp: Path) -> None:
    """Remove the QA copy, whatever the command left there: folders nested past Python's
    recursion (shutil.rmtree's limit), or ones it made unreadable (then what can go, goes)."""
    try:
        remove_tree(tmp)
    except (OSError, RecursionError):
        with contextlib.suppress(RecursionError):
            shutil.rmtree(tmp, ignore_errors=True)


def _fill_local(source: Sandbox, dest: Path, tree: bytes | None) -> None:
    if tree is not None:
        with tarfile.open(fileobj=io.BytesIO(tree)) as tar:
            tar.extractall(dest, filter="data")
        return
    shutil.copytree(source.spec.workspace, dest, symlinks=True, dirs_exist_ok=True)


def _fill_docker(source: Sandbox, qa: Sandbox, tree: bytes | None) -> None:
    from sandboxes.workspaces.docker_snapshot import docker_chunks

    api = qa._api  # noqa: SLF001 - the archive API of the sandboxes' own daemon
    if tree is None:
        if not getattr(source, "container_id", None):
            raise SandboxError(f"the sandbox of {source.spec.agent_id} has stopped; "
                               "nothing to copy")
        tree = _strip_prefix(docker_chunks(api, source.container_id))  # type: ignore[attr-defined]
    if not api.put_archive(qa.container_id, "/workspace", tree):  # type: ignore[attr-defined]
        raise SandboxError("could not copy the task's result into the QA container")


def _strip_prefix(chunks) -> bytes:
    """The archive API's tar of /workspace, its entries relative to /workspace."""
    from sandboxes.workspaces.docker_snapshot import _ChunkReader

    out = io.BytesIO()
    with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as src, \
            tarfile.open(fileobj=out, mode="w") as dst:
        for member in src:
            name = member.name
            if not name.startswith(PREFIX):
                continue
            member.name = name[len(PREFIX):]
            if member.islnk() and member.linkname.startswith(PREFIX):
                member.linkname = member.linkname[len(PREFIX):]
            data = src.extractfile(member) if member.isfile() else None
            dst.addfile(member, data)
    return out.getvalue()
