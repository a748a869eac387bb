"""The one shift calendar engine and its two views: the simulation's (back-to-back shifts joined) and the
scheduler's (one window per shift, whole seconds inside the horizon). Both must see the same working time."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest

from tests.conftest import DEMO_PLANT
from twin.calendar import ShiftWindow, seconds_of_day, working_windows
from twin.config import load_plant
from twin.model import Calendar, Plant, Shift
from twin.schedule.plant.problem import Window
from twin.schedule.plant.problem import shift_windows as scheduler_windows
from twin.sim import shift_windows as sim_windows

H = 3600
DAY = 86400
MONDAY_0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC).timestamp()

EARLY = Shift(name="early", start="06:00", end="14:00")
LATE = Shift(name="late", start="14:00", end="22:00")
NIGHT = Shift(name="night", start="22:00", end="06:00")
HANDOVER = Shift(name="late", start="13:30", end="22:00")  # overlaps the early shift by 30 min


def plant_with(*shifts: Shift) -> Plant:
    """The demo plant with another shift calendar."""
    return load_plant(DEMO_PLANT).model_copy(update={"calendar": Calendar(shifts=list(shifts))})


def test_seconds_of_day() -> None:
    assert seconds_of_day("00:00") == 0
    assert seconds_of_day("06:30") == 6 * H + 30 * 60


def test_back_to_back_shifts_join_in_the_simulation_and_stay_apart_for_the_scheduler() -> None:
    joined = list(itertools.islice(working_windows([EARLY, LATE], MONDAY_0), 2))
    assert joined == [ShiftWindow(6 * H, 22 * H, "early"), ShiftWindow(30 * H, 46 * H, "early")]
    apart = list(itertools.islice(working_windows([EARLY, LATE], MONDAY_0, join_touching=False), 3))
    assert apart == [
        ShiftWindow(6 * H, 14 * H, "early"),
        ShiftWindow(14 * H, 22 * H, "late"),
        ShiftWindow(30 * H, 38 * H, "early"),
    ]
    p = plant_with(EARLY, LATE)
    assert list(itertools.islice(sim_windows(p, MONDAY_0), 2)) == [(6 * H, 22 * H), (30 * H, 46 * H)]
    assert scheduler_windows(p, MONDAY_0, DAY) == [
        Window(6 * H, 14 * H, "early"),
        Window(14 * H, 22 * H, "late"),
    ]
    # Overlapping shifts merge in both views.
    q = plant_with(EARLY, HANDOVER)
    assert list(itertools.islice(sim_windows(q, MONDAY_0), 1)) == [(6 * H, 22 * H)]
    assert scheduler_windows(q, MONDAY_0, DAY) == [Window(6 * H, 22 * H, "early")]


def test_overnight_shift_reaches_in_from_the_day_before_and_crosses_midnight() -> None:
    p = plant_with(NIGHT)
    assert list(itertools.islice(sim_windows(p, MONDAY_0), 2)) == [(-2 * H, 6 * H), (22 * H, 30 * H)]
    assert scheduler_windows(p, MONDAY_0, 2 * DAY) == [
        Window(0, 6 * H, "night"),  # the Sunday night shift, cut at t=0
        Window(22 * H, 30 * H, "night"),
        Window(46 * H, 2 * DAY, "night"),  # cut at the horizon
    ]
    # An origin at 02:00 moves everything by 2 h.
    assert scheduler_windows(p, MONDAY_0 + 2 * H, DAY) == [
        Window(0, 4 * H, "night"),
        Window(20 * H, DAY, "night"),
    ]


def test_horizon_cut_and_after() -> None:
    p = plant_with(EARLY, LATE)
    assert scheduler_windows(p, MONDAY_0, 10 * H) == [Window(6 * H, 10 * H, "early")]
    assert scheduler_windows(p, MONDAY_0, 6 * H) == []
    assert scheduler_windows(p, MONDAY_0 + 15 * H, 24 * H) == [
        Window(0, 7 * H, "late"),
        Window(15 * H, 23 * H, "early"),
        Window(23 * H, 24 * H, "late"),  # cut at the horizon
    ]
    assert list(itertools.islice(sim_windows(p, MONDAY_0, after=23 * H), 1)) == [(30 * H, 46 * H)]


def test_round_the_clock() -> None:
    p = plant_with(EARLY, LATE, NIGHT)
    assert list(sim_windows(p, MONDAY_0)) == [(-18 * H, math.inf)]  # one window that never closes
    assert [(w.start, w.end, w.shift) for w in scheduler_windows(p, MONDAY_0, DAY)] == [
        (0, 6 * H, "night"),
        (6 * H, 14 * H, "early"),
        (14 * H, 22 * H, "late"),
        (22 * H, DAY, "night"),
    ]
    whole_day = plant_with(Shift(name="all", start="00:00", end="00:00"))
    assert list(sim_windows(whole_day, MONDAY_0)) == [(-DAY, math.inf)]
    assert scheduler_windows(whole_day, MONDAY_0, 2 * DAY) == [
        Window(0, DAY, "all"),
        Window(DAY, 2 * DAY, "all"),
    ]


def test_no_shifts() -> None:
    p = plant_with()
    assert list(sim_windows(p, MONDAY_0)) == [(-math.inf, math.inf)]  # the simulation: always open
    assert scheduler_windows(p, MONDAY_0, DAY) == []  # the scheduler: nothing to plan in (as before)


def _joined(windows: list[Window]) -> list[tuple[float, float]]:
    """Join touching windows. The scheduler rounds each window inwards to whole seconds, so with a
    fractional origin two back-to-back shifts are 1 s apart (shifts are whole minutes: no real gap is)."""
    out: list[tuple[float, float]] = []
    for w in windows:
        if out and w.start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], w.end))
        else:
            out.append((w.start, w.end))
    return out


@pytest.mark.parametrize(
    "shifts",
    [
        [EARLY],
        [EARLY, LATE],
        [EARLY, HANDOVER],
        [NIGHT],
        [EARLY, LATE, NIGHT],
        [LATE, NIGHT],
        [HANDOVER, NIGHT],
    ],
)
@pytest.mark.parametrize("offset_s", [0, 2 * H, 6 * H, 13 * H + 45 * 60, 23 * H, 1234.5])
def test_both_views_see_the_same_working_time(shifts: list[Shift], offset_s: float) -> None:
    """The scheduler's windows, joined where they touch, are the simulation's clipped to the horizon."""
    p = plant_with(*shifts)
    origin = MONDAY_0 + offset_s
    horizon = 3 * DAY
    sim: list[tuple[float, float]] = []
    for start, end in sim_windows(p, origin):
        if start >= horizon:
            break
        s, e = max(math.ceil(start), 0), horizon if end >= horizon else math.floor(end)
        if e > s:
            sim.append((s, e))
    assert _joined(scheduler_windows(p, origin, horizon)) == sim
