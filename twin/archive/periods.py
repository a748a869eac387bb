"""Time ranges and the periods KPIs are grouped by: shifts (from the plant's calendar), days, hours, a range.

Pure functions. A time is ``now``, a look-back (``90s``, ``30m``, ``12h``, ``7d``, ``2w``), an ISO date or
date-time (UTC unless it says otherwise) or epoch seconds. A range must end after it starts. Days and hours
are UTC, as the calendar's clock times are. A shift period is one working window of a shift
(:func:`twin.calendar.working_windows`, back-to-back shifts kept apart), cut to the range, labelled
``YYYY-MM-DD <shift>`` by the date it starts on.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import NamedTuple

from twin.calendar import working_windows
from twin.errors import ValidationError
from twin.model import Shift

__all__ = ["GROUPINGS", "Period", "make_periods", "parse_time", "time_range"]

#: What KPIs can be grouped by.
GROUPINGS = ("shift", "day", "hour", "range")
#: At most this many periods in one query (an hour grouping over ten years is a mistake, not a report).
MAX_PERIODS = 50_000
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")


class Period(NamedTuple):
    """One group of a KPI query: ``[start, end)`` in epoch seconds."""

    label: str
    shift: str
    start: float
    end: float


def parse_time(text: str, now: float, what: str = "time") -> float:
    """A point in time from ``now``, a look-back (``7d``), an ISO date(-time) or epoch seconds."""
    t = text.strip()
    if t == "now":
        return now
    m = _AGO.match(t)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        v = float(t)
    except ValueError:
        pass
    else:
        if math.isfinite(v) and 0 <= v < 1e11:
            return v
        raise ValidationError(f"{what} {text!r} is out of range (epoch seconds between 0 and 1e11)")
    try:
        d = dt.datetime.fromisoformat(t)
    except ValueError:
        raise ValidationError(
            f"{what} {text!r} is not a time: use now, a look-back like 7d / 12h / 30m, "
            "an ISO date such as 2025-03-01T06:00, or epoch seconds"
        ) from None
    return (d if d.tzinfo else d.replace(tzinfo=dt.UTC)).timestamp()


def time_range(
    since: str | None, until: str | None, now: float, default_since: str = "1d"
) -> tuple[float, float]:
    """``(start, end)`` from ``--since`` / ``--until`` (default: the last day up to now); reversed or empty
    ranges are refused, naming both ends."""
    start = parse_time(since or default_since, now, "--since")
    end = parse_time(until, now, "--until") if until else now
    if end <= start:
        a, b = _iso(start), _iso(end)
        raise ValidationError(
            f"the time range is reversed or empty: --since {since or default_since} is {a}, "
            f"--until {until or 'now'} is {b}"
        )
    return start, end


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _buckets(start: float, end: float, size: float, fmt: str) -> list[Period]:
    out: list[Period] = []
    t = math.floor(start / size) * size
    while t < end:
        label = dt.datetime.fromtimestamp(t, dt.UTC).strftime(fmt)
        out.append(Period(label, "", max(t, start), min(t + size, end)))
        t += size
        if len(out) > MAX_PERIODS:
            raise ValidationError(
                f"too many periods (over {MAX_PERIODS}): use a shorter range or a coarser --by"
            )
    return out


def _shift_periods(start: float, end: float, shifts: Sequence[Shift], only: str | None) -> list[Period]:
    out: list[Period] = []
    for w in working_windows(shifts, 0.0, after=start, join_touching=False):
        if w.start >= end:
            break
        a, b = max(w.start, start), min(w.end, end)
        if b <= a or (only is not None and w.shift != only):
            continue
        day = dt.datetime.fromtimestamp(max(w.start, 0.0), dt.UTC).strftime("%Y-%m-%d")
        out.append(Period(f"{day} {w.shift}".strip(), w.shift, a, b))
        if len(out) > MAX_PERIODS:
            raise ValidationError(f"too many periods (over {MAX_PERIODS}): use a shorter range")
        if math.isinf(w.end):
            break
    return out


def make_periods(
    by: str, start: float, end: float, shifts: Sequence[Shift], shift: str | None = None
) -> list[Period]:
    """The periods of ``[start, end)`` grouped ``by`` shift, day, hour or as one range."""
    if by not in GROUPINGS:
        raise ValidationError(f"--by must be one of {', '.join(GROUPINGS)} (got {by!r})")
    if shift is not None:
        names = sorted({s.name for s in shifts})
        if shift not in names:
            raise ValidationError(
                f"unknown shift {shift!r} (the plant's shifts: {', '.join(names) or 'none'})"
            )
        if by != "shift":
            raise ValidationError("--shift only goes with --by shift")
    if by == "range":
        return [Period(f"{_iso(start)}/{_iso(end)}", "", start, end)]
    if by == "hour":
        return _buckets(start, end, 3600.0, "%Y-%m-%d %H:00")
    if by == "day":
        return _buckets(start, end, 86400.0, "%Y-%m-%d")
    return _shift_periods(start, end, shifts, shift)
