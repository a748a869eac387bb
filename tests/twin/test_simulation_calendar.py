"""The shift calendar in the flow model: windows, Off outside shifts, work paused over the night."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from tests.twin.test_simulation import EXACT, Recorder, plan
from twin.config import parse_plant
from twin.model import Plant, StationState
from twin.sim import FlowSim, SimOptions, check_plan, shift_windows, simulate_plan

H = 3600.0
CAL = SimOptions(cycle_cv=0.0, faults=False, calendar=True)


def one_station(cycle_s: float, shifts: str, power: float = 10.0, idle: float = 2.0) -> Plant:
    """A line of one station (power ``power``/``idle`` kW) doing model M in ``cycle_s``."""
    return parse_plant(
        f"""
id: cal
calendar:
  shifts:
{shifts}
lines:
  - id: L
    kind: dedicated
    equipment:
      - {{id: S, operations: [a], power_kw: {power}, idle_power_kw: {idle}}}
models:
  - id: M
    routing: [{{operation: a, cycle_s: {cycle_s}}}]
"""
    )


DAY = '    - {name: day, start: "06:00", end: "14:00"}'
TWO = DAY + '\n    - {name: late, start: "14:00", end: "22:00"}'
NIGHT = '    - {name: night, start: "22:00", end: "06:00"}'
ROUND = TWO + "\n" + NIGHT


def take(it: Iterator[tuple[float, float]], n: int) -> list[tuple[float, float]]:
    out = []
    for w in it:
        out.append(w)
        if len(out) == n:
            break
    return out


def test_windows_merge_back_to_back_shifts_and_cross_midnight() -> None:
    assert take(shift_windows(one_station(60, DAY), 0.0), 2) == [(6 * H, 14 * H), (30 * H, 38 * H)]
    assert take(shift_windows(one_station(60, TWO), 0.0), 2) == [(6 * H, 22 * H), (30 * H, 46 * H)]
    # A night shift reaches into t=0 from the day before; origin 02:00 of some day shifts everything.
    assert take(shift_windows(one_station(60, NIGHT), 0.0), 2) == [(-2 * H, 6 * H), (22 * H, 30 * H)]
    assert take(shift_windows(one_station(60, NIGHT), 10 * 86400 + 2 * H), 1) == [(-4 * H, 4 * H)]
    # windows ending before `after` are skipped
    assert take(shift_windows(one_station(60, DAY), 0.0, after=15 * H), 1) == [(30 * H, 38 * H)]
    # three shifts round the clock: one window that never closes
    assert take(shift_windows(one_station(60, ROUND), 0.0), 2) == [
        (-18 * H, math.inf)
    ]  # from 06:00 the day before


def test_calendar_is_off_by_default_and_caps_output_to_shift_time() -> None:
    p = one_station(60, DAY)
    pl = plan(("L", "M", 1000))
    assert SimOptions().calendar is False
    free = simulate_plan(p, pl, 24 * H, options=EXACT)
    assert free.completed == {"M": 1000}  # 1000 min < 24 h, round the clock
    r = simulate_plan(p, pl, 24 * H, options=CAL)
    assert r.completed == {"M": 480}  # one 8 h shift of 60 s cycles (t=0 is 00:00 UTC)
    assert r.makespan_s == pytest.approx(14 * H)
    # Off draws nothing: all energy is the 8 h of running at 10 kW.
    assert r.energy_kwh == pytest.approx(80.0)
    assert r.lines["L"]["off_s"] == pytest.approx(16 * H)
    assert r.lines["L"]["busy_s"] == pytest.approx(8 * H)
    # check_plan forwards the option; two shifts build twice as much
    res = check_plan(one_station(60, TWO), pl, 24 * H, seeds=[0, 1], options=CAL)
    assert res.aggregate["completed_min"] == {"M": 960}


def test_work_in_progress_pauses_over_the_night() -> None:
    # 5000 s cycles in an 8 h (28800 s) shift: 5 cars by 25000 s; the 6th has 3800 s done at 14:00 and
    # its remaining 1200 s run from 06:00 the next day.
    p = one_station(5000, DAY)
    r = simulate_plan(p, plan(("L", "M", 10)), 31 * H, options=CAL)
    assert r.completed == {"M": 6}
    assert r.makespan_s == pytest.approx(30 * H + 1200)


def test_states_and_power_follow_the_shifts() -> None:
    p = one_station(600, DAY, power=10.0, idle=2.0)
    rec = Recorder()
    sim = FlowSim(p, options=CAL, on_change=rec)
    sim.follow(plan(("L", "M", 100)))
    seen: dict[float, tuple[str, float]] = {}
    for t in (1 * H, 7 * H, 13 * H, 15 * H, 23 * H, 31 * H):
        sim.advance(t)
        snap = sim.snapshot()["S"]
        seen[t] = (snap["state"], snap["power_kw"])
    assert seen[1 * H] == ("Off", 0.0)
    assert seen[7 * H] == ("Running", 10.0)
    assert seen[13 * H] == ("Running", 10.0)
    assert seen[15 * H] == ("Off", 0.0)
    assert seen[23 * H] == ("Off", 0.0)
    assert seen[31 * H] == ("Running", 10.0)
    states = [
        s for i, s in enumerate(rec.series("S", "state")) if i == 0 or s != rec.series("S", "state")[i - 1]
    ]
    assert states[0] == "Off"  # published as Off from the start
    assert states[:4] == ["Off", "Running", "Off", "Running"]
    assert sim.units["S"].time_in[StationState.OFF] == pytest.approx(6 * H + 16 * H)


def test_plan_origin_places_t0_on_the_clock() -> None:
    p = one_station(60, DAY)
    pl = plan(("L", "M", 1000))
    pl.meta["origin"] = 86400 * 20 + 5 * H  # t=0 is 05:00 UTC: the shift opens at t=1 h
    r = simulate_plan(p, pl, 3 * H, options=CAL)
    assert r.completed == {"M": 119}  # 1 h .. 3 h of 60 s cycles (the one due at 3 h is past the end)
    # an explicit origin wins over the plan's
    r2 = simulate_plan(
        p, pl, 3 * H, options=SimOptions(cycle_cv=0, faults=False, calendar=True, calendar_origin=6 * H)
    )
    assert r2.completed == {"M": 179}


def test_cells_and_agvs_stop_outside_shifts(mini_plant: Plant) -> None:
    p = mini_plant.model_copy(deep=True)
    p.calendar = one_station(60, DAY).calendar
    cells = next(line for line in p.lines if line.kind.value == "cells")
    pl = plan((cells.id, "B", 200))
    free = simulate_plan(p, pl, 6 * H, options=EXACT)
    assert sum(free.completed.values()) > 0
    before = simulate_plan(p, pl, 6 * H, options=CAL)
    assert before.completed == {} and before.energy_kwh == 0.0  # nothing before 06:00, all Off
    day = simulate_plan(p, pl, 12 * H, options=CAL)
    assert (
        0 < sum(day.completed.values()) <= sum(simulate_plan(p, pl, 6 * H, options=EXACT).completed.values())
    )
    sim = FlowSim(p, options=CAL, on_change=Recorder())
    sim.follow(pl)
    sim.advance(10 * H)
    sim.advance(15 * H)
    assert {v["state"] for k, v in sim.snapshot().items() if k in {e.id for e in cells.equipment}} == {"Off"}
