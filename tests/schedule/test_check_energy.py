"""The simulation check meters the plant per clock quarter-hour and flags a plan whose simulated 15-minute
peak breaks the cap it was made under (answers worked out by hand on the two-line plant)."""

from __future__ import annotations

import pytest

from tests.schedule.test_energy_kpis import MONDAY_0, plan, two_line_plant
from twin.schedule.plant.check import check_plan_in_sim
from twin.sim import SimOptions
from twin.sim.check import simulate_plan

pytestmark = pytest.mark.timeout(60)

EXACT = SimOptions(cycle_cv=0.0, faults=False)
#: L builds 15 cars in the first quarter-hour, M 15 in the second.
LOTS = [("L", 15, 0, 900), ("M", 15, 900, 1800)]


def test_simulated_run_is_metered_per_quarter_hour() -> None:
    run = simulate_plan(two_line_plant(), plan(LOTS), 7200, 0, EXACT)
    # In the simulation a line with work idles all the time it is not building: slot 0 L runs (100 kW) and
    # M idles (50), slot 1 M runs (200) and L idles (20), then both idle (70).
    assert run.kw_15min == [(0.0, 150.0), (900.0, 220.0)] + [(900.0 * k, 70.0) for k in range(2, 8)]
    assert run.peak_kw_15min == 220.0
    assert sum(kw for _s, kw in run.kw_15min) * 0.25 == pytest.approx(run.energy_kwh)


def test_meter_follows_the_clock() -> None:
    late = plan(LOTS)
    late.meta["origin"] = MONDAY_0 + 600  # t=0 at 00:10: the first quarter-hour has 300 s of the plan
    run = simulate_plan(two_line_plant(), late, 7200, 0, EXACT)
    assert [s for s, _kw in run.kw_15min[:3]] == [0.0, 300.0, 1200.0]
    assert run.kw_15min[0][1] == 50.0  # 150 kW for 300 s, billed over the quarter-hour


def test_a_plan_whose_simulated_peak_breaks_its_cap_is_flagged() -> None:
    capped = plan(LOTS, energy={"power_cap_kw": 200, "cap_from_s": 0})
    chk = check_plan_in_sim(two_line_plant(), capped, seeds=(0, 1), options=EXACT)
    assert chk.meets_demand and not chk.ok
    assert chk.cap_broken_seeds == [0, 1] and chk.peak_kw_15min_since == [220.0, 220.0]
    summary = chk.summary()
    assert summary["cap_ok"] is False and summary["cap_kw"] == 200 and summary["ok"] is False


def test_the_cap_counts_from_the_time_it_holds() -> None:
    # Frozen work in progress broke the cap until 1800 s: the check counts the quarter-hours from then on.
    later = plan(LOTS, energy={"power_cap_kw": 200, "cap_from_s": 1800})
    chk = check_plan_in_sim(two_line_plant(), later, seeds=(0,), options=EXACT)
    assert chk.ok and chk.cap_broken_seeds == [] and chk.peak_kw_15min_since == [70.0]
    assert chk.peak_kw_15min == [220.0] and chk.summary()["cap_ok"] is True


def test_no_cap_no_cap_verdict() -> None:
    chk = check_plan_in_sim(two_line_plant(), plan(LOTS), seeds=(0,), options=EXACT)
    assert chk.ok and chk.cap_kw is None and chk.summary()["cap_ok"] is None
