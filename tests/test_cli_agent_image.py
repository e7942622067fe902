"""The offline CLI agent image: the real claude and codex binaries run in a hardened container."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sandboxes.docker import DockerSandbox
from tests.cli_image_support import CLI_IMAGE, require_cli_image
from tests.docker_support import make_spec

pytestmark = pytest.mark.docker


async def test_claude_and_bash_run_as_the_sandbox_user(tmp_path: Path) -> None:
    require_cli_image()
    sandbox = DockerSandbox(make_spec(tmp_path / "ws", image=CLI_IMAGE))
    await sandbox.start()
    try:
        result = await asyncio.wait_for(sandbox.exec(
            "claude --version; bash -c 'echo bash $BASH_VERSION'; id -u; codex --version 2>/dev/null",
            timeout=60), 90)
    finally:
        await sandbox.stop()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "(Claude Code)" in lines[0]
    assert lines[1].startswith("bash ") and len(lines[1]) > len("bash ")
    assert lines[2] != "0"
    assert lines[3] == "codex-cli 0.171.0"
