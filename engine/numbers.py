"""Numbers from the person (headless lines, later the socket): finite and within range.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``1e400`` (as infinity) and builds an
int of any length (or fails deep inside with a bare ValueError past 4,300 digits).  A
command line is parsed here instead, so none of them reaches the engine: each is one
clear :class:`NumberError` saying what is wrong.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: the longest integer literal a command may carry (limits, timeouts: far below this)
MAX_INT_DIGITS = 18


class NumberError(ValueError):
    """A number the person gave that the engine refuses: one sentence to show."""


def _constant(name: str) -> Any:
    raise NumberError(f"{name} is not a number the engine accepts; give a finite number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberError(f"{text[:30]} is out of range; give a finite number")
    return value


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise NumberError(f"an integer of {digits} digits is out of range; give at most "
                          f"{MAX_INT_DIGITS} digits")
    return int(text)


def parse_command(line: str) -> Any:
    """A command line as JSON, refusing NaN, infinities and overlong integers.

    Raises json.JSONDecodeError for text that is not JSON, NumberError for a bad number.
    """
    return json.loads(line, parse_constant=_constant, parse_float=_float, parse_int=_int)


def checked_number(name: str, value: object, *, low: float, high: float,
                   integer: bool = False) -> int | float:
    """``value`` if it is a finite number with low < value <= high (an int if ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NumberError(f"{name} must be a number, not {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise NumberError(f"{name} must be a finite number, not {value}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise NumberError(f"{name} must be a whole number, not {value}")
        value = int(value)
    if not low < value <= high:
        top = f"{high:,.0f}" if float(high).is_integer() else f"{high:,}"
        raise NumberError(f"{name} must be above {low:g} and at most {top}, not {_shown(value)}")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 30 else f"{text[:27]}..."
