"""Run every benchmark in turn (`make bench`); each prints its figures and ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_engine.py", "bench_visibility.py", "bench_docker.py", "bench_tui.py",
           "bench_claude.py", "bench_cli.py", "bench_soak.py", "bench_floods.py",
           "bench_checkpoint.py", "bench_diff_screen.py", "bench_attach.py", "bench_proxy.py",
           "bench_mcp.py", "bench_board_ui.py", "bench_board.py"]


def main() -> int:
    status = 0
    for name in SCRIPTS:
        path = HERE / name
        if not path.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        rc = subprocess.call([sys.executable, str(path)], cwd=HERE.parent)
        if rc != 0:
            print(f"{name} exited with {rc}", flush=True)
            status = rc
    return status


if __name__ == "__main__":
    sys.exit(main())
