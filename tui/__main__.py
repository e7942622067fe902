"""Entry point of `agentorch-tui`.  Textual is only imported when the TUI runs."""

from __future__ import annotations

import sys


def _run_tui(team, config_path, args) -> int:
    from tui.app import run_app

    return run_app(team, config_path, args)


def _run_replay(run, events, args) -> int:
    from tui.replay import run_replay

    return run_replay(run, events, args)


def _run_attach(run, socket) -> int:
    from tui.remote_app import run_attach

    return run_attach(run, socket)


def _ask_reload(text: str) -> bool:
    from tui.config_changed import ask_reload_config

    return ask_reload_config(text)


def main(argv: list[str] | None = None) -> int:
    from engine.cli import main as cli_main

    try:
        return cli_main(argv, tui_runner=_run_tui, replay_runner=_run_replay,
                        ask_reload=_ask_reload, attach_runner=_run_attach)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
