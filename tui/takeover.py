"""Taking over: a shell in the selected agent's sandbox, with the app suspended.

In a container it is `docker exec -it` as the sandbox's own user in /workspace (never
root); on the LOCAL backend the shell is a shell on this machine, as you, which the
person confirms first.  Every take-over is recorded as an event (a `notice`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandboxes.base import Sandbox


@dataclass(frozen=True)
class Shell:
    argv: list[str]
    cwd: str | None
    on_host: bool  # the LOCAL backend: the shell runs unsandboxed, as the person
    where: str  # in words, for the notice


def shell_for(sandbox: Sandbox) -> Shell | str:
    """How to open a shell in ``sandbox``, or why it cannot be done."""
    container = getattr(sandbox, "container_id", None)
    if sandbox.kind == "docker":
        if not container:
            return "its container has not started (or was removed)"
        docker = shutil.which("docker")
        if docker is None:
            return "the `docker` command is not installed on this machine"
        user = getattr(sandbox, "user", "1000:1000")
        return Shell([docker, "exec", "-it", "-u", user, "-w", "/workspace", container, "sh"],
                     None, False, f"container {container[:12]} as {user}")
    workspace = sandbox.spec.workspace
    shell = os.environ.get("SHELL") or "/bin/sh"
    return Shell([shell], str(workspace), True, f"{workspace} on this machine (LOCAL)")


def run_shell(shell: Shell) -> int:
    """Run the shell on the terminal (the app is suspended meanwhile); its exit status."""
    try:
        return subprocess.call(shell.argv, cwd=shell.cwd)
    except OSError as exc:
        print(f"agentorch: cannot start {shell.argv[0]}: {exc.strerror or exc}")
        return 127
