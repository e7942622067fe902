"""`schedule:` in agents.yaml: what `check` accepts, and one clear FILE:LINE per mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import TeamConfig
from engine.loader import ConfigError, load_team

ROOT = Path(__file__).resolve().parents[1]

BAD = """\
name: t
sandbox: {backend: local}
agents:
  - id: a
    model: scripted
    script: []
    schedule: "61 * * * *"
  - id: b
    model: scripted
    script: []
    schedule:
      cron: "*/5 * * * *"
      timezone: Mars/Olympus
      offline_after: soon
  - id: c
    model: scripted
    script: []
    instructions_on_schedule: hi
  - id: d
    model: scripted
    script: []
    schedule: {cron: "@fortnightly", overlap: parallel}
  - id: e
    model: scripted
    script: []
    schedule: "* * *"
"""

GOOD = """\
name: t
sandbox: {backend: local}
agents:
  - id: a
    model: scripted
    script: []
    schedule: "*/5 * * * *"
  - id: b
    model: scripted
    script: []
    schedule: {cron: "*/10 * * * * *", timezone: Europe/Paris, overlap: queue_one,
               missed: skip, offline_after: 2h}
    instructions_on_schedule: Look at the queue.
  - id: c
    model: scripted
    script: []
    schedule: "@daily"
"""


def test_check_names_file_line_and_field_of_each_bad_schedule(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(BAD)
    proc = subprocess.run([sys.executable, "-m", "tui", "check", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines() + proc.stderr.splitlines()
    found = {line.split(": ", 2)[0].rsplit(":", 1)[1] + " " + line.split(": ", 2)[1]: line
             for line in lines if line.startswith(str(path))}
    assert set(found) == {"7 agents[0].schedule.cron", "13 agents[1].schedule.timezone",
                          "14 agents[1].schedule.offline_after",
                          "18 agents[2].instructions_on_schedule",
                          "22 agents[3].schedule.cron", "26 agents[4].schedule.cron"}
    assert "a value is out of range" in found["7 agents[0].schedule.cron"]
    assert "unknown time zone 'Mars/Olympus'" in found["13 agents[1].schedule.timezone"]
    assert "unknown alias '@fortnightly'" in found["22 agents[3].schedule.cron"]
    assert "has 3 fields" in found["26 agents[4].schedule.cron"]
    assert "Traceback" not in proc.stderr


def test_parallel_overlap_is_refused_for_a_scripted_agent(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(GOOD.replace("overlap: queue_one", "overlap: parallel"))
    with pytest.raises(ConfigError) as err:
        load_team(path)
    [problem] = err.value.problems
    assert (problem.line, problem.field) == (11, "agents[1].schedule")
    assert "a scripted agent reads no messages" in problem.message


def test_good_schedules_load_as_strings_or_mappings(tmp_path):
    path = tmp_path / "team.yaml"
    path.write_text(GOOD)
    team = load_team(path)
    a, b, c = (team.agent(x).schedule for x in "abc")
    assert a.cron == "*/5 * * * *" and a.overlap == "skip" and a.missed == "run_once"
    assert (b.timezone, b.overlap, b.missed, b.offline_after) == ("Europe/Paris", "queue_one",
                                                                  "skip", 7200)
    assert c.cron == "@daily"


def test_the_json_schema_takes_a_string_or_a_mapping():
    schema = TeamConfig.model_json_schema()
    sched = schema["$defs"]["Schedule"]
    kinds = [branch.get("type") for branch in sched["anyOf"]]
    assert kinds == ["string", "object"]
    assert set(sched["anyOf"][1]["properties"]) == {"cron", "timezone", "overlap", "missed",
                                                   "offline_after"}
    agent = schema["$defs"]["AgentConfig"]["properties"]
    assert "instructions_on_schedule" in agent
    json.dumps(schema)
