"""`schedule:` of an agent: a cron expression, its time zone and its policies.

Cron expressions are parsed by croniter: five fields (minute hour day month weekday),
six with seconds first (`*/10 * * * * *`, as node-cron and Quartz write them), or an
alias (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`).  Times are computed in
the schedule's time zone, so `0 9 * * *` is 09:00 there summer and winter alike:

* a time the clocks skip (02:30 when they spring forward) fires once, at the change;
* a time the clocks pass twice (02:30 when they fall back) fires once for an
  expression with fixed hours (`30 2 * * *`), and each real hour for one whose hour
  is a wildcard or a step (`30 * * * *`, `*/15 */2 * * *`), as Vixie cron does.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_HELP = ("write five fields (minute hour day month weekday, e.g. `*/5 * * * *`), six "
             "with seconds first (`*/10 * * * * *`), or one of @hourly, @daily, @weekly, "
             "@monthly, @yearly")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def cron_problem(expr: str) -> str | None:
    """None when ``expr`` is a cron expression we accept, else why not and what to write."""
    text = expr.strip()
    if not text:
        return f"the cron expression is empty; {CRON_HELP}"
    if text.startswith("@"):
        return None if text.lower() in ALIASES else f"unknown alias {text!r}; {CRON_HELP}"
    fields = text.split()
    if len(fields) not in (5, 6):
        return f"{text!r} has {len(fields)} fields; {CRON_HELP}"
    try:
        croniter(text, datetime(2026, 1, 1), second_at_beginning=len(fields) == 6)
    except (ValueError, KeyError) as exc:
        return f"{text!r} is not a valid cron expression ({_reason(exc)}); {CRON_HELP}"
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "out of range" in text:
        return ("a value is out of range: seconds and minutes 0-59, hours 0-23, days 1-31, "
                "months 1-12, weekdays 0-6")
    return text.split("] ", 1)[1] if text.startswith("[") and "] " in text else text or "invalid"


def zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name such as Europe/Paris, America/New_York or UTC"
    return None


def checked_zone(name: str | None) -> str | None:
    """A pydantic validator's body: ``name`` (None allowed) if it is a time zone."""
    problem = zone_problem(name) if name is not None else None
    if problem:
        raise ValueError(problem)
    return name


def local_zone_name() -> str:
    """The machine's time zone: $TZ when it names one, else /etc/localtime's, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name and zone_problem(name) is None:
            return name
    return "UTC"


def parse_duration(value: float | int | str) -> float:
    """Seconds from `90`, `90s`, `10m`, `2h` or `1d`; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or e.g. `10m`, `2h`, `1d`")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration; write seconds or e.g. `90s`, `10m`, `2h`, `1d`")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds < 366 * 86400:
        raise ValueError("a duration must be above 0 and under a year")
    return seconds


class Schedule(BaseModel):
    """When a scheduled agent is woken. A string is the cron expression alone."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    cron: str
    """Cron expression: `*/5 * * * *`, `0 9 * * 1-5`, `*/10 * * * * *` (seconds first) or
    @hourly, @daily, @weekly, @monthly, @yearly."""
    timezone: str | None = None
    """IANA time zone the expression is read in (e.g. `Europe/Paris`; default: this
    machine's zone)."""
    overlap: Literal["skip", "queue_one", "parallel"] = "skip"
    """A firing while the agent still works on the previous one: `skip` it (recorded),
    `queue_one` (run it as soon as the agent is free; more firings meanwhile are skipped)
    or `parallel` (deliver it at once as a message the busy agent reads at its next turn;
    not for scripted agents, which read no messages)."""
    missed: Literal["run_once", "skip"] = "run_once"
    """Firings missed while agentorch was not running (on --resume): `run_once` runs one
    firing at start for all of them, `skip` records them and waits for the next."""
    offline_after: float | str | None = None
    """The agent shows `offline` when no firing has completed for this long (seconds or
    e.g. `90m`, `2h`; default: twice the time between two firings, at least a minute)."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"cron": data} if isinstance(data, str) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        obj = handler(core_schema)
        return {"anyOf": [{"type": "string", "description": "A cron expression (see `cron`)."}, obj]}

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        problem = cron_problem(v)
        if problem:
            raise ValueError(problem)
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, v: str | None) -> str | None:
        return checked_zone(v)

    @field_validator("offline_after")
    @classmethod
    def _valid_duration(cls, v: float | str | None) -> float | None:
        return None if v is None else parse_duration(v)

    def times(self) -> CronTimes:
        return CronTimes(self.cron, self.timezone or local_zone_name())


class CronTimes:
    """The firing instants of one expression in one zone, as epoch seconds."""

    def __init__(self, expr: str, zone: str) -> None:
        self.expr = expr
        self.zone_name = zone
        self.zone = ZoneInfo(zone)
        fields = expr.split()
        self.with_seconds = len(fields) == 6
        hours = (fields[2] if self.with_seconds else fields[1]) if len(fields) >= 5 else (
            "*" if expr.lower() == "@hourly" else "0")
        #: fixed hours (`2`, `9-17`, `1,13`) fire once in an hour the clocks pass twice
        self.fixed_hours = "*" not in hours

    def next_after(self, ts: float) -> float:
        """The first firing strictly after ``ts``."""
        start = datetime.fromtimestamp(ts, self.zone)
        it = croniter(self.expr, start, second_at_beginning=self.with_seconds)
        for _ in range(1000):
            when: datetime = it.get_next(datetime)
            if when.timestamp() <= ts:
                continue
            if self.fixed_hours and when.fold == 1 and _ambiguous(when):
                continue  # the second pass of a repeated hour: fired on the first
            return when.timestamp()
        raise ValueError(f"{self.expr!r} has no firing after {start.isoformat()}")

    def between(self, after: float, until: float, limit: int = 10_000) -> list[float]:
        """Firings in (after, until], at most ``limit`` of them (the newest kept)."""
        out: list[float] = []
        t = after
        while len(out) < limit:
            t = self.next_after(t)
            if t > until:
                break
            out.append(t)
        return out

    def period(self, around: float) -> float:
        """Seconds between the two firings after ``around`` (for the offline default)."""
        first = self.next_after(around)
        return self.next_after(first) - first

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.zone)


def _ambiguous(when: datetime) -> bool:
    return when.replace(fold=0).utcoffset() != when.replace(fold=1).utcoffset()


def describe(expr: str) -> str:
    """The expression in words (`Every 5 minutes`), or the expression when no words fit."""
    text = expr.strip()
    words = {"@hourly": "Every hour", "@daily": "Every day at midnight",
             "@midnight": "Every day at midnight", "@weekly": "Every Sunday at midnight",
             "@monthly": "On the 1st of every month at midnight",
             "@yearly": "On January 1st at midnight", "@annually": "On January 1st at midnight"}
    if text.lower() in words:
        return words[text.lower()]
    try:
        from cron_descriptor import Options, get_description

        options = Options()
        options.use_24hour_time_format = True
        options.verbose = False
        return get_description(text, options)
    except Exception:  # the describer is a nicety: the expression itself never fails to show
        return text


def when_text(ts: float | None, zone: str, now: float | None = None) -> str:
    """`14:05:00 CET` (today) or `Tue 1 Dec 09:00 CET`; `-` for None."""
    if ts is None:
        return "-"
    local = datetime.fromtimestamp(ts, ZoneInfo(zone))
    ref = datetime.fromtimestamp(now, ZoneInfo(zone)) if now is not None else None
    same_day = ref is not None and ref.date() == local.date() and abs(ts - now) < 86400
    fmt = "%H:%M:%S %Z" if same_day else "%a %d %b %H:%M %Z"
    return local.strftime(fmt)


def in_text(seconds: float) -> str:
    """`in 4m 10s`, `in 2h 5m`, `in 3d 2h`."""
    s = max(0, int(round(seconds)))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if d:
        return f"in {d}d {h}h"
    if h:
        return f"in {h}h {m}m"
    if m:
        return f"in {m}m {sec}s"
    return f"in {sec}s"


__all__ = ["CronTimes", "Schedule", "cron_problem", "describe", "in_text", "local_zone_name",
           "checked_zone", "parse_duration", "when_text", "zone_problem"]
