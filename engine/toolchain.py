"""The project's toolchain in the sandboxes.

- `sandbox.build:` a Dockerfile (relative to the team file) built once per content hash
  into the team's image `agentorch/team-<name>:<hash>`; every docker agent without an
  `image:` of its own runs in it.  Built before the backends are checked, so a missing
  base image or a failing step stops the start with one sentence.
- `setup:` commands (`sandbox.setup` for every agent, then the agent's own) run in each
  agent's sandbox after it started and before the agent does, output in its console; a
  failing one stops the start.  They run again at each resume (a new container).
- `copy:` untracked files of the repository (such as `.env`) copied into each fresh
  clone, descriptor-relative and never through a symlink; a warning says their contents
  enter the sandboxes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import stat
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from engine import events as ev
from sandboxes.base import SandboxError

if TYPE_CHECKING:
    from engine.run import Engine
    from sandboxes.base import Sandbox

SETUP_TIMEOUT = 900.0  # seconds for one setup command
COPY_LIMIT = 1024 * 1024  # bytes of one copied file
BUILD_TAIL = 3  # lines of a failed build's output in its error


# -- build ------------------------------------------------------------------------------
def image_tag(team_name: str, dockerfile: bytes) -> str:
    slug = re.sub(r"[^a-z0-9_.-]", "-", team_name.lower()).strip("-.") or "team"
    return f"agentorch/team-{slug[:40]}:{hashlib.sha256(dockerfile).hexdigest()[:12]}"


async def build_team_image(engine: Engine) -> SandboxError | None:
    """Build the team's image when `sandbox.build` is set and Docker may be used; sets
    ``engine.built_image``.  What keeps the team from starting, or None."""
    build = engine.team.sandbox.build
    if not build:
        return None
    if all(engine.requested_backend(a) == "local" for a in engine.team.agents):
        return None
    from sandboxes.docker_client import docker_answers

    if not await docker_answers():
        return None  # `auto` goes local; a docker agent gets the daemon's error
    path = engine.team.resolve(build)
    assert path is not None
    try:
        recipe = build_recipe(path)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return SandboxError(f"sandbox.build: cannot read {build} ({why}); name a Dockerfile "
                            "or a devcontainer.json relative to the team file")
    if isinstance(recipe, str):  # a devcontainer.json naming an image: no build
        engine.built_image = recipe
        return None
    dockerfile, context = recipe
    tag = image_tag(engine.team.name, dockerfile.read_bytes())
    if await asyncio.to_thread(_image_exists, tag):
        engine.built_image = tag
        return None
    await engine.emit(ev.NOTICE, level="info", build=tag,
                      text=f"building the team's image {tag} from {build} (once per Dockerfile)")
    started = time.monotonic()
    problem = await asyncio.to_thread(_build, dockerfile, tag, context)
    if problem is not None:
        return SandboxError(f"sandbox.build: building {build} failed: {problem}")
    engine.built_image = tag
    await engine.emit(ev.NOTICE, level="info", build=tag,
                      text=f"built {tag} in {time.monotonic() - started:.1f} s")
    return None


def _image_exists(tag: str) -> bool:
    from sandboxes.docker_client import _docker_module, _get_client

    try:
        _get_client().images.get(tag)
        return True
    except _docker_module().errors.ImageNotFound:
        return False


def build_recipe(path: Path) -> tuple[Path, Path] | str:
    """What `sandbox.build` names: (Dockerfile, context folder), or an image name (a
    devcontainer.json with `image`).  OSError / ValueError in words for the person."""
    if path.suffix != ".json":
        path.read_bytes()  # readable, or OSError
        return path, path.parent
    text = path.read_text()
    text = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "",
                  text, flags=re.S)  # devcontainer.json allows comments
    try:
        data = json.loads(re.sub(r",(\s*[}\]])", r"\1", text))  # and trailing commas
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    build = data.get("build") if isinstance(data, dict) else None
    if isinstance(build, dict) and isinstance(build.get("dockerfile"), str):
        dockerfile = (path.parent / build["dockerfile"]).resolve()
        context = (path.parent / str(build.get("context") or ".")).resolve()
        dockerfile.read_bytes()
        return dockerfile, context
    if isinstance(data, dict) and isinstance(data.get("image"), str) and data["image"]:
        return data["image"]
    raise ValueError("it has neither `image` nor `build.dockerfile`")


def _build(dockerfile: Path, tag: str, context: Path) -> str | None:
    """docker build of ``dockerfile`` in ``context``; the error or None."""
    from sandboxes.docker_client import _get_client

    lines: list[str] = []
    try:
        for chunk in _get_client().api.build(path=str(context),
                                             dockerfile=str(dockerfile.relative_to(context))
                                             if dockerfile.is_relative_to(context) else str(dockerfile),
                                             tag=tag, rm=True, forcerm=True, pull=False,
                                             decode=True):
            if "error" in chunk:
                return " ".join(str(chunk["error"]).split())[:300]
            text = chunk.get("stream")
            if isinstance(text, str) and text.strip():
                lines.append(text.strip())
    except Exception as exc:  # noqa: BLE001 - the daemon's error, in one sentence
        detail = getattr(exc, "explanation", None) or exc
        return " ".join(str(detail).split())[:300] + (
            f" (last output: {' | '.join(lines[-BUILD_TAIL:])})" if lines else "")
    return None


# -- setup ------------------------------------------------------------------------------
def setup_commands(engine: Engine, agent_id: str) -> list[str]:
    agent = engine.team.agent(agent_id)
    return [*engine.team.sandbox.setup, *(agent.setup or [])]


async def run_setup(engine: Engine, sandboxes: dict[str, Sandbox]) -> SandboxError | None:
    """Every agent's setup commands in its started sandbox (agents in parallel, each
    agent's in order); the first failure, or None."""
    results = await asyncio.gather(*(_setup_one(engine, a, s) for a, s in sandboxes.items()))
    return next((r for r in results if r is not None), None)


async def _setup_one(engine: Engine, agent_id: str, sandbox: Sandbox) -> SandboxError | None:
    for command in setup_commands(engine, agent_id):
        await engine.emit(ev.CONSOLE, agent_id, kind="command", text=command, setup=True)

        async def on_output(chunk: str) -> None:
            await engine.emit(ev.CONSOLE, agent_id, kind="output", text=chunk, setup=True)

        result = await sandbox.exec(command, SETUP_TIMEOUT, on_output)
        await engine.emit(ev.CONSOLE, agent_id, kind="exit", exit_code=result.exit_code,
                          timed_out=result.timed_out, truncated=result.truncated, setup=True)
        if result.exit_code != 0 or result.timed_out:
            why = "timed out" if result.timed_out else f"exited {result.exit_code}"
            return SandboxError(f"setup of {agent_id}: `{command}` {why}; its console shows "
                                "the output")
    return None


# -- copy -------------------------------------------------------------------------------
def copy_problem(name: str) -> str | None:
    """For the config: what is wrong with a `copy:` entry, or None."""
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\0" in name:
        return f"{name!r} must be a path inside the repository (relative, no `..`)"
    if p.parts and p.parts[0] == ".git":
        return f"{name!r} is inside .git; copy only files of the working tree"
    return None


def copy_untracked(user_repo: Path, workspace: Path, names: list[str], uid: int | None) -> None:
    """Copy each file ``names`` of the user's repository into the fresh clone
    ``workspace`` (before its sandbox starts).  OSError with the file named."""
    for name in names:
        data = _read_user_file(user_repo, name)
        _write_new(workspace, name, data, uid)


def _read_user_file(user_repo: Path, name: str) -> bytes:
    try:
        fd = os.open(user_repo / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise OSError(f"copy: {name} does not exist in {user_repo}") from None
    except OSError as exc:
        raise OSError(f"copy: cannot read {name} in {user_repo} "
                      f"({'a symlink' if exc.errno == 40 else exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"copy: {name} in {user_repo} is not a regular file")
        if st.st_size > COPY_LIMIT:
            raise OSError(f"copy: {name} is over {COPY_LIMIT // 1024} KiB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(COPY_LIMIT + 1)
    finally:
        os.close(fd)


def _write_new(workspace: Path, name: str, data: bytes, uid: int | None) -> None:
    """Create ``name`` under ``workspace`` through directory descriptors (no symlink is
    followed, an existing file is never overwritten: a tracked file is not `copy:`'s)."""
    parts = PurePosixPath(name).parts
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    dir_fd = os.open(workspace, flags)
    try:
        for part in parts[:-1]:
            try:
                os.mkdir(part, 0o755, dir_fd=dir_fd)
                if uid is not None:
                    os.chown(part, uid, uid, dir_fd=dir_fd, follow_symlinks=False)
            except FileExistsError:
                pass
            next_fd = os.open(part, flags, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        try:
            fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                         dir_fd=dir_fd)
        except FileExistsError:
            raise OSError(f"copy: {name} is in the repository already (tracked); `copy:` is "
                          "for untracked files such as .env") from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if uid is not None:
                os.fchown(f.fileno(), uid, uid)
    finally:
        os.close(dir_fd)


def copy_warning(names: list[str]) -> str:
    return (f"copy: {', '.join(names)} from your repository is in every agent's workspace: "
            "its contents (secrets included) enter the sandboxes and what the agents send "
            "to their models")
