"""Start-up failures: a configuration error is exit 2, the run is recorded as failed
(not running, not resumable), and nothing is left running."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from crash_support import ROOT

CLAUDE_TEAM = """\
name: keyless
sandbox: {backend: local}
agents:
  - id: a
    model: claude-sonnet-4-5
"""


def test_a_missing_api_key_is_a_configuration_error(tmp_path):
    (tmp_path / "team.yaml").write_text(CLAUDE_TEAM)
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "tui", "team.yaml", "--headless", "--db",
                           "s.db"], cwd=tmp_path, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "ANTHROPIC_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT status FROM runs").fetchone() == ("failed",)
    assert conn.execute("SELECT status FROM agents").fetchall() == [("failed",)]
    conn.close()
    runs = subprocess.run([sys.executable, "-m", "tui", "runs", "--db", "s.db"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=60)
    assert "failed" in runs.stdout and "resumable" not in runs.stdout
    again = subprocess.run([sys.executable, "-m", "tui", "--resume", "last", "--headless",
                            "--db", "s.db"], cwd=tmp_path, capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL, timeout=60)
    assert again.returncode == 1 and "nothing to resume" in again.stderr
