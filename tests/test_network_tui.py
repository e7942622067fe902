"""The held-request dialog and the connection counts in the real TUI (pilot), on a real
Docker sandbox reaching a server on 127.0.0.1 through the run's proxy."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker_support import require_docker
from proxy_support import FakeOrigin

from engine.config import AgentConfig
from engine.loader import load_team
from engine.run import Engine
from memory.store import Store
from sandboxes.docker import TEST_IMAGE
from tests.conftest_tui import (  # noqa: F401  (tui_env_fixture provides `tui_env`)
    FROZEN_TS,
    RUN_ID,
    pending,
    status_is,
    tui_env_fixture,
    wait_until,
    write_team,
)
from tui.app import make_app
from tui.presentation import agent_row
from tui.screens.agent_detail import AgentDetail, detail_renderable
from tui.screens.network import NetworkScreen

pytestmark = pytest.mark.docker


async def test_a_held_request_is_answered_from_its_dialog(tui_env: Path) -> None:
    require_docker()
    origin = await FakeOrigin().start()
    command = f"wget -O - http://127.0.0.1:{origin.port}/ 2>&1"
    path = write_team(tui_env, {"name": "net", "sandbox": {"backend": "docker", "image": TEST_IMAGE},
                                "agents": [{"id": "coder", "model": "scripted",
                                            "network": {"allow": [], "hold_timeout": 600},
                                            "script": [{"tool": "run_command",
                                                        "args": {"command": command}}]}]})
    team = load_team(path)

    async def factory():
        store = await Store.open(tui_env / "state.db")
        return Engine(team, store, config_path=str(path), run_id=RUN_ID,
                      clock=lambda: FROZEN_TS), store

    app = make_app(factory, flush_interval=0.05, blink_cursors=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, pending("network", "coder"), timeout=60)
            await pilot.press("n", "enter")
            await pilot.pause()
            assert isinstance(app.screen, NetworkScreen)
            shown = str(app.screen.query_one("#prompt").render())
            assert f"127.0.0.1:{origin.port}" in shown and "Wget" in shown
            await pilot.press("t")  # allow for this run
            await wait_until(pilot, status_is("coder", "done"), timeout=60)
            view = app.state.agents["coder"]
            assert (view.connections, view.refused) == (1, 0)
            assert "⇅1" in agent_row(view)["sandbox"].plain
            detail = detail_renderable(AgentDetail(view, AgentConfig(id="coder"), ""))
            from rich.console import Console

            console = Console(width=120, record=True)
            console.print(detail)
            assert f"✓ GET 127.0.0.1:{origin.port}" in console.export_text()
    finally:
        await origin.stop()
    assert origin.heads and origin.heads[0].startswith(b"GET / ")
