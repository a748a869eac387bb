"""Simulation check of a plan: run it through the plant's SimPy flow model (:mod:`twin.sim`) in
virtual time over several seeds, with its fault rates and cycle-time variance, and flag plans that miss
demand.

The plan is simulated from its origin (t=0) over its horizon, lots released at their planned starts. The
shift calendar is off unless ``options.calendar`` is set, so by default a lot planned late in a shift may
run on past the shift's end: only the horizon bounds it. The seeds run one after another.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.model import Plan, Plant
from twin.sim import SimOptions, check_plan

__all__ = ["PlanCheck", "check_plan_in_sim"]


@dataclass
class PlanCheck:
    """Outcome of the simulation check."""

    ok: bool
    fulfilment_mean: float  # cars completed / cars the plan asked for (mean over seeds)
    fulfilment_min: float
    demand_fulfilment: float  # cars completed (min over seeds, capped per model) / demand
    missing: dict[str, float]  # model -> cars short of demand (mean over seeds), only where short
    seeds: list[int]
    wall_s: float
    aggregate: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The short form stored in a plan's metadata."""
        return {
            "ok": self.ok,
            "fulfilment_mean": self.fulfilment_mean,
            "fulfilment_min": self.fulfilment_min,
            "demand_fulfilment": self.demand_fulfilment,
            "missing": self.missing,
            "seeds": self.seeds,
            "wall_s": self.wall_s,
            "kwh_per_vehicle": self.aggregate.get("kwh_per_vehicle_mean"),
            "faults_mean": self.aggregate.get("faults_mean"),
        }


def check_plan_in_sim(
    plant: Plant,
    plan: Plan,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    horizon_s: float | None = None,
    options: SimOptions | None = None,
    tolerance: float = 0.0,
) -> PlanCheck:
    """Simulate ``plan`` once per seed; ``ok`` if every seed completes at least ``1 - tolerance`` of the
    demand of every model (``tolerance`` 0.02 accepts plans within 2 % of demand)."""
    t0 = time.perf_counter()
    h = (
        horizon_s
        if horizon_s is not None
        else float(plan.meta.get("horizon_s") or 0) or (plant.calendar.horizon_hours * 3600)
    )
    res = check_plan(plant, plan, float(h), seeds=list(seeds), options=options)
    agg = res.aggregate
    done_min: dict[str, float] = agg.get("completed_min", {})
    done_mean: dict[str, float] = agg.get("completed_mean", {})
    wanted = {m: q for m, q in plan.demand.items() if q > 0}
    missing = {m: round(q - done_mean.get(m, 0.0), 2) for m, q in wanted.items() if done_mean.get(m, 0.0) < q}
    total = sum(wanted.values())
    met = sum(min(q, done_min.get(m, 0.0)) for m, q in wanted.items())
    demand_ful = round(met / total, 4) if total else 1.0
    ok = all(done_min.get(m, 0.0) >= q * (1.0 - tolerance) - 1e-9 for m, q in wanted.items())
    return PlanCheck(
        ok=ok,
        fulfilment_mean=float(agg.get("fulfilment_mean", 0.0)),
        fulfilment_min=float(agg.get("fulfilment_min", 0.0)),
        demand_fulfilment=demand_ful,
        missing=missing,
        seeds=list(seeds),
        wall_s=round(time.perf_counter() - t0, 3),
        aggregate=agg,
    )
