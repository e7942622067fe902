"""What needs the person's approval before run_command or write_file acts, and what the
approval prompt shows: the whole command, the rule that triggered, and the content of
any workspace file the command runs (what a person approves is what runs)."""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from typing import TYPE_CHECKING, Any

from engine.command_policy import WORKSPACE, assess, workspace_path
from sandboxes import SandboxError

if TYPE_CHECKING:
    from engine.agent import AgentRuntime

PROBE_TIMEOUT = 10.0
#: characters of a file shown in an approval prompt; the rest is cut with a marker
SHOWN_CHARS = 4000
#: directories whose files run code (hooks, CI, editor tasks, the engine's own state)
PROTECTED_DIRS = {
    ".git": "hooks and config in .git run code",
    ".github": "CI workflows run code",
    ".gitlab": "CI configuration runs code",
    ".circleci": "CI configuration runs code",
    ".buildkite": "CI configuration runs code",
    ".husky": "git hooks run code",
    ".githooks": "git hooks run code",
    ".vscode": "editor tasks run code when the folder is opened",
    ".agentorch": "the engine's own state",
}
PROTECTED_FILES = {
    ".gitlab-ci.yml": "CI configuration runs code",
    ".travis.yml": "CI configuration runs code",
    "jenkinsfile": "CI configuration runs code",
    "azure-pipelines.yml": "CI configuration runs code",
    "bitbucket-pipelines.yml": "CI configuration runs code",
    ".pre-commit-config.yaml": "git hooks run code",
    ".gitmodules": "git follows it on clone and update",
    ".envrc": "direnv runs it in the person's shell",
    "agents.yaml": "the team's own configuration",
    "agents.yml": "the team's own configuration",
}


def protected_reason(path: str, config_names: frozenset[str] = frozenset()) -> str | None:
    """Why writing ``path`` (workspace-relative or under /workspace) needs approval under
    `approval: risky`, or None.  Compared case-insensitively (macOS, Windows volumes)."""
    rel = workspace_path(path).lower()
    parts = rel.split("/")
    for part in parts[:-1]:
        if part in PROTECTED_DIRS:
            return f"writes a protected file ({PROTECTED_DIRS[part]}): {path}"
    name = parts[-1]
    if name in PROTECTED_DIRS:
        return f"writes a protected path ({PROTECTED_DIRS[name]}): {path}"
    if name in PROTECTED_FILES:
        return f"writes a protected file ({PROTECTED_FILES[name]}): {path}"
    if name in config_names:
        return f"writes a file named like the team's own configuration: {path}"
    return None


def config_names(agent: AgentRuntime) -> frozenset[str]:
    """File names of the team's rules and memory files (lower case)."""
    team = agent.engine.team
    files = [f for a in team.agents for f in (a.rules_file, a.memory_file) if f]
    return frozenset(posixpath.basename(f).lower() for f in files)


def bounded(text: str) -> str:
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"\n… ({len(text) - SHOWN_CHARS} more characters not shown)"


async def command_request(agent: AgentRuntime, command: str) -> dict[str, Any] | None:
    """The fields of a command_approval interrupt for ``command``, or None to run it."""
    mode = agent.config.command_approval
    if mode == "never":
        return None
    verdict = await asyncio.to_thread(  # a long command takes the parser a while
        assess, command, agent.engine.team.safe_commands, frozenset(agent.written_paths))
    if mode == "risky" and verdict.safe:
        return None
    reasons = ["approval: always"] if mode == "always" else []
    reason = "; ".join([*reasons, *verdict.reasons])
    files = [f for f in [await _shown_file(agent, p) for p in verdict.scripts] if f]
    return {"command": command, "reason": reason, "files": files or None}


#: prints the first symlink on the way to $1 (relative to the workspace), if any: a write
#: through `g/hooks/x` with `g -> .git` must ask like one to `.git/hooks/x`
SYMLINK_PROBE = r"""set -f; IFS=/; cur=$1; shift
for c in $1; do
  [ -n "$c" ] || continue
  cur=$cur/$c
  if [ -L "$cur" ]; then printf '%s' "$cur"; exit 0; fi
  [ -e "$cur" ] || exit 0
done"""


async def write_request(agent: AgentRuntime, path: str, content: str) -> dict[str, Any] | None:
    """The fields of a command_approval interrupt for writing ``path``, or None."""
    mode = agent.config.command_approval
    if mode == "always":
        reason: str | None = "approval: always"
    elif mode == "risky":
        reason = protected_reason(path, config_names(agent)) or await _through_symlink(agent, path)
    else:
        reason = None
    if reason is None:
        return None
    return {"path": path, "reason": reason,
            "files": [{"path": path, "content": bounded(content)}]}


async def _through_symlink(agent: AgentRuntime, path: str) -> str | None:
    """Why a write to ``path`` asks because it passes a symlink (which may lead to a
    protected path), or None.  Checked inside the sandbox, as the sandbox user."""
    root = WORKSPACE if agent.sandbox.kind == "docker" else "."
    rel = workspace_path(path)
    command = f"sh -c {shlex.quote(SYMLINK_PROBE)} agentorch-probe {shlex.quote(root)} {shlex.quote(rel)}"
    try:
        result = await agent.sandbox.exec(command, PROBE_TIMEOUT)
    except SandboxError:
        result = None
    if result is None or result.exit_code != 0:
        return f"could not check {path} for symlinks"
    link = result.output.strip()
    if not link:
        return None
    shown = link[len(root) + 1:] if link.startswith(root + "/") else link
    return f"writes through a symlink, which may lead to a protected path: {shown}"


def remember_write(agent: AgentRuntime, path: str) -> None:
    agent.written_paths.add(workspace_path(path))


async def _shown_file(agent: AgentRuntime, path: str) -> dict[str, str] | None:
    """The current content of a workspace file the command runs (read inside the
    sandbox, like read_file), or None when it cannot be read."""
    try:
        content = await agent.sandbox.read_file(path)
    except (OSError, SandboxError, UnicodeDecodeError):
        return None
    return {"path": path, "content": bounded(content)}
