"""Shared helpers for the docker sandbox tests (real Docker, no mocks).

Without a daemon the tests skip, unless ``AGENTORCH_REQUIRE_DOCKER=1`` (set by
.ci/run): then they fail, so CI can never go green by skipping them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from sandboxes.base import SandboxSpec
from sandboxes.docker import TEST_IMAGE, DockerSandbox, docker_available

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "sandboxes" / "images" / "build-test-image.sh"
#: The same busybox image with /tmp at mode 755 (built by the same script).
TMP755_IMAGE = "agentorch/sandbox-test-tmp755:latest"

_checked: str | None = None  # None: not yet, "": fine, else the reason it is not


def _problem() -> str:
    if not docker_available(timeout=3):
        return "no Docker daemon answers (start dockerd, or run .ci/run)"
    from sandboxes.docker import _get_client

    try:
        _get_client().images.get(TEST_IMAGE)
        _get_client().images.get(TMP755_IMAGE)
        return ""
    except Exception:  # noqa: BLE001 - missing: build it below
        pass
    build = subprocess.run(
        ["bash", str(BUILD_SCRIPT), TEST_IMAGE], capture_output=True, text=True, check=False
    )
    if build.returncode != 0:
        return f"test image {TEST_IMAGE} missing and {BUILD_SCRIPT.name} failed: {build.stderr[-500:]}"
    return ""


def require_docker() -> None:
    """Skip (or, with AGENTORCH_REQUIRE_DOCKER=1, fail) when Docker or the test image is missing."""
    global _checked
    if _checked is None:
        try:
            _checked = _problem()
        except FileNotFoundError as exc:  # no docker CLI
            _checked = f"docker CLI missing: {exc}"
    if _checked:
        if os.environ.get("AGENTORCH_REQUIRE_DOCKER") == "1":
            pytest.fail(f"Docker is required (AGENTORCH_REQUIRE_DOCKER=1): {_checked}")
        pytest.skip(_checked)


def make_spec(workspace: Path, agent_id: str = "agent", run_id: str = "test-run", **kw) -> SandboxSpec:
    kw.setdefault("image", TEST_IMAGE)
    return SandboxSpec(backend="docker", workspace=workspace, run_id=run_id, agent_id=agent_id, **kw)


def started_sandbox(spec: SandboxSpec) -> DockerSandbox:
    """Start a sandbox outside any event loop (for module-scoped fixtures)."""
    sandbox = DockerSandbox(spec)
    asyncio.run(sandbox.start())
    return sandbox


def stop_sandbox(sandbox: DockerSandbox) -> None:
    asyncio.run(sandbox.stop())


def container_exists(container_id: str) -> bool:
    import docker

    from sandboxes.docker import _get_client

    try:
        _get_client().api.inspect_container(container_id)
        return True
    except docker.errors.NotFound:
        return False


def remove_container(container_id: str) -> None:
    import docker

    from sandboxes.docker import _get_client

    try:
        _get_client().api.remove_container(container_id, force=True)
    except docker.errors.NotFound:
        pass

