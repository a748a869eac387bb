"""The plant's shift calendar: when the plant works, as windows of seconds from an origin.

One engine, :func:`working_windows`, turns the daily shifts (``HH:MM`` clock times on the UTC clock, a shift
may cross midnight, equal start and end is 24 h) into the working windows from the day before the origin
on, in time order and without end. Overlapping shifts always merge into one window. Back-to-back shifts
(one ends when the next starts) are the caller's choice:

* the flow simulation joins them (``join_touching=True``): a line working 06-14 and 14-22 runs on at
  14:00, and a calendar that covers the whole day is one window that never closes;
* the scheduler keeps them apart (``join_touching=False``): each shift is a window of its own that a
  resource may be powered in or not, and a lot fits inside one shift.

Both see the same working time; the scheduler's windows are the simulation's cut at every shift boundary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from twin.model import Shift

__all__ = ["DAY_S", "ShiftWindow", "daily_shifts", "seconds_of_day", "working_windows"]

#: Seconds in a (UTC) day.
DAY_S = 86400


class ShiftWindow(NamedTuple):
    """A working window ``[start, end)`` in seconds from the origin and the name of its (first) shift."""

    start: float
    end: float
    shift: str


def seconds_of_day(hhmm: str) -> int:
    """Seconds since midnight of an ``HH:MM`` clock time."""
    h, m = (int(x) for x in hhmm.split(":"))
    return h * 3600 + m * 60


def daily_shifts(shifts: Iterable[Shift]) -> list[tuple[int, int, str]]:
    """Each shift as ``(start, end, name)`` seconds of its day, sorted; ``end`` may pass midnight."""
    out: list[tuple[int, int, str]] = []
    for sh in shifts:
        a, b = seconds_of_day(sh.start), seconds_of_day(sh.end)
        out.append((a, b if b > a else b + DAY_S, sh.name))  # crosses midnight (24 h when equal)
    return sorted(out)


def working_windows(
    shifts: Iterable[Shift], origin: float, *, after: float = 0.0, join_touching: bool = True
) -> Iterator[ShiftWindow]:
    """The working windows in seconds from UTC epoch ``origin``, in time order, without end.

    Overlapping shifts merge; back-to-back shifts merge only with ``join_touching``. A window is named
    after its first shift that is still open after ``after``. A window merged over whole days never
    closes: it is the last one and ends at ``math.inf``. Windows ending at or before ``after`` are
    skipped. No shifts: always open, one window ``(-inf, inf)``.
    """
    daily = daily_shifts(shifts)
    if not daily:
        yield ShiftWindow(-math.inf, math.inf, "")
        return
    day = math.floor(origin / DAY_S) * DAY_S - DAY_S  # the day before t=0: its night shift may reach in
    cur: ShiftWindow | None = None
    while True:
        for a, b, name in daily:
            start, end = day + a - origin, day + b - origin
            if cur is None:
                cur = ShiftWindow(start, end, name)
            elif start < cur.end or (join_touching and start == cur.end):
                opener = cur.shift if cur.end > after else name  # the shifts so far ended before `after`
                cur = ShiftWindow(cur.start, max(cur.end, end), opener)
            else:
                if cur.end > after:
                    yield cur
                cur = ShiftWindow(start, end, name)
        assert cur is not None
        if cur.end - cur.start > 2 * DAY_S:  # merged over whole days: round the clock
            yield cur._replace(end=math.inf)
            return
        day += DAY_S
