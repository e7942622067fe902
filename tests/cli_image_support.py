"""The CLI agent image (agentorch/sandbox-cli:latest) for the claude-code tests.

Built by sandboxes/images/build-cli-image.sh (npm install of the pinned claude-code,
cached in ~/.cache/agentorch); like tests/docker_support.py, a missing daemon or image
skips the tests, or fails them with AGENTORCH_REQUIRE_DOCKER=1 (CI).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.docker_support import REPO, require_docker

CLI_IMAGE = "agentorch/sandbox-cli:latest"
BUILD_CLI_SCRIPT = REPO / "sandboxes" / "images" / "build-cli-image.sh"

_checked: str | None = None


def require_cli_image() -> None:
    """Docker and the CLI image (built here if missing): else skip, or fail in CI."""
    global _checked
    require_docker()
    if _checked is None:
        build = subprocess.run(["bash", str(BUILD_CLI_SCRIPT), CLI_IMAGE], capture_output=True,
                               text=True, check=False)
        _checked = "" if build.returncode == 0 else (
            f"{CLI_IMAGE} missing and {BUILD_CLI_SCRIPT.name} failed: {build.stderr[-500:]}")
    if _checked:
        if os.environ.get("AGENTORCH_REQUIRE_DOCKER") == "1":
            pytest.fail(f"the CLI image is required (AGENTORCH_REQUIRE_DOCKER=1): {_checked}")
        pytest.skip(_checked)
