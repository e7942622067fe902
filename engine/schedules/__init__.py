"""Schedules: agents woken by cron expressions, and what keeps a long-lived team honest.

`spec` parses `schedule:`; `clock` is the engine's injectable clock; `scheduler` wakes
the agents; `commands` registers the control commands (run now, pause, resume).
"""
