"""Claude Code on the LOCAL backend (unsandboxed: a subprocess on this machine), with the
model socket, and with the key passed in by `pass_env` (a warning says so; usage then
comes from the CLI's result line)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine import events as ev
from tests.cli_image_support import BUILD_CLI_SCRIPT
from tests.engine_support import make_team, run_to_end
from tests.fake_anthropic import FakeAnthropic, Turn, fake_api_fixture, text, tool

api = fake_api_fixture()
VERSION = "2.1.332"


@pytest.fixture
def claude_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The npm-installed claude (cached by build-cli-image.sh) first on PATH."""
    cache = Path.home() / ".cache" / "agentorch" / f"claude-code-{VERSION}"
    binary = cache / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude"
    if not binary.exists():
        pytest.skip(f"claude-code {VERSION} is not cached: run {BUILD_CLI_SCRIPT.name}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "claude").symlink_to(binary)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    # a home of its own: the Bash tool sources the shell rc of $HOME, and this machine's
    # (pyenv init with a stale rehash lock) alone made the test wait 60 s
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    subprocess.run(["claude", "--version"], check=True, capture_output=True,
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin"})


def local_team(tmp_path: Path, **agent):
    return make_team(tmp_path, [{"id": "coder", "brain": "claude-code", "model": "claude-sonnet-4-5",
                                 "script": None, "tools": ["finish"], **agent}])


async def test_local_claude_code_through_the_model_socket(tmp_path: Path, api: FakeAnthropic,
                                                          claude_on_path: None) -> None:
    api.push("coder", Turn([tool("Bash", command="pwd; echo $ANTHROPIC_API_KEY", description="x")]),
             Turn([text("local done")]))
    # risky, Bash allowed: bypassPermissions (approval: never) is refused to root, and
    # tests may run as root
    team = local_team(tmp_path, approval="risky", cli={"allowed_tools": ["Bash"]})
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=120)
    out = watcher.find(ev.TOOL_RESULT, "coder", tool="Bash")[0].data["result"]
    workspace = team.workspace_of(team.agents[0])
    assert str(workspace) in out.splitlines()
    assert "sk-ant-test" not in out  # a placeholder only, even unsandboxed
    assert [r.headers["x-api-key"] for r in api.requests] == ["sk-ant-test"] * 2
    assert len(watcher.find(ev.USAGE, "coder")) == 2
    assert engine.agents["coder"].status == ev.DONE
    await store.close()


async def test_pass_env_puts_the_key_in_and_says_so(tmp_path: Path, api: FakeAnthropic,
                                                    claude_on_path: None) -> None:
    api.push("coder", Turn([text("direct")]))
    team = local_team(tmp_path, approval="risky",
                      pass_env=["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"])
    engine, watcher, store = await run_to_end(team, tmp_path, timeout=120)
    warning = [e.data["text"] for e in watcher.find(ev.NOTICE, "coder")]
    assert any("ANTHROPIC_API_KEY is passed into its sandbox" in w for w in warning), warning
    usage = watcher.find(ev.USAGE, "coder")
    assert len(usage) == 1  # from the CLI's result line, priced by our table
    assert usage[0].data["input_tokens"] > 0 and usage[0].data["cost"] > 0
    await store.close()
