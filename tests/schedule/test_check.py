"""The simulation check of a plan (:func:`twin.schedule.plant.check.check_plan_in_sim`) on the demo plant."""

from __future__ import annotations

import pytest

from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.check import check_plan_in_sim
from twin.sim import SimOptions


def lots(demand: dict[str, int], *rows: tuple[str, str, int]) -> Plan:
    """A plan of ``(resource, model, qty)`` lots released at t=0 for ``demand``."""
    return Plan(
        demand=demand,
        assignments=[
            PlanAssignment(resource=r, model=m, quantity=q, start_s=0.0, end_s=0.0) for r, m, q in rows
        ],
    )


@pytest.mark.timeout(60)
def test_a_plan_that_fits_passes_and_one_that_does_not_is_flagged(demo: Plant) -> None:
    """Two hours: L1 builds ~90 EV-SUVs (72 s bottleneck), so 60 pass and 200 miss, by about 110 cars."""
    ok = check_plan_in_sim(demo, lots({"EV-SUV": 60}, ("L1", "EV-SUV", 60)), horizon_s=7200, seeds=[0, 1])
    assert ok.ok and ok.missing == {} and ok.demand_fulfilment == 1.0 and ok.fulfilment_min == 1.0
    assert ok.summary()["seeds"] == [0, 1] and ok.summary()["kwh_per_vehicle"] > 0

    short = check_plan_in_sim(
        demo, lots({"EV-SUV": 200}, ("L1", "EV-SUV", 200)), horizon_s=7200, seeds=[0, 1]
    )
    assert not short.ok
    assert 80 < short.missing["EV-SUV"] < 140
    assert short.demand_fulfilment < 0.6 and short.fulfilment_min < 0.6


@pytest.mark.timeout(60)
def test_tolerance_and_the_plans_horizon(demo: Plant) -> None:
    """A plan 1 car short of demand passes only with a tolerance; the horizon comes from the plan's meta."""
    pl = lots({"EV-SUV": 41}, ("L1", "EV-SUV", 40))
    pl.meta["horizon_s"] = 7200
    exact = SimOptions(cycle_cv=0.0, faults=False)
    assert not check_plan_in_sim(demo, pl, seeds=[0], options=exact).ok
    res = check_plan_in_sim(demo, pl, seeds=[0], options=exact, tolerance=0.05)
    assert res.ok and res.aggregate["horizon_s"] == 7200.0 and res.missing == {"EV-SUV": 1.0}
