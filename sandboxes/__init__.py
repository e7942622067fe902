"""Where agents' commands run: the sandbox protocol and its backends."""

from __future__ import annotations

from sandboxes.base import (
    ExecResult,
    OutputCallback,
    PathEscapeError,
    Sandbox,
    SandboxError,
    SandboxSpec,
)

__all__ = [
    "ExecResult",
    "OutputCallback",
    "PathEscapeError",
    "Sandbox",
    "SandboxError",
    "SandboxSpec",
    "create_sandbox",
]


def create_sandbox(spec: SandboxSpec) -> Sandbox:
    """Build (not start) the sandbox for ``spec.backend``."""
    if spec.backend == "local":
        from sandboxes.local import LocalSandbox

        return LocalSandbox(spec)
    if spec.backend == "docker":
        from sandboxes.docker import DockerSandbox

        return DockerSandbox(spec)
    raise SandboxError(f"unknown sandbox backend {spec.backend!r}; use docker or local")
