"""Simulation check of a plan: run it through the plant's SimPy flow model (:mod:`twin.sim`) in
virtual time over several seeds, with its fault rates and cycle-time variance, and flag plans that miss
demand or whose simulated 15-minute peak breaks the power cap they were made under (in any seed).

The plan is simulated from its origin (t=0) over its horizon, lots released at their planned starts. The
shift calendar is off unless ``options.calendar`` is set, so by default a lot planned late in a shift may
run on past the shift's end: only the horizon bounds it. The seeds run one after another. The cap and the
time it holds from are the plan's ``meta["energy"]`` (``power_cap_kw``, ``cap_from_s``): the 15-minute
intervals that start from then on count.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.model import Plan, Plant
from twin.schedule.plant.energy import plan_cap
from twin.sim import CheckResult, SimOptions, check_plan

__all__ = ["PlanCheck", "check_plan_in_sim"]


@dataclass
class PlanCheck:
    """Outcome of the simulation check."""

    ok: bool  # demand met and the cap kept in every seed
    fulfilment_mean: float  # cars completed / cars the plan asked for (mean over seeds)
    fulfilment_min: float
    demand_fulfilment: float  # cars completed (min over seeds, capped per model) / demand
    missing: dict[str, float]  # model -> cars short of demand (mean over seeds), only where short
    seeds: list[int]
    wall_s: float
    aggregate: dict[str, Any] = field(default_factory=dict)
    meets_demand: bool = True
    peak_kw_15min: list[float] = field(default_factory=list)  # per seed, the whole horizon
    peak_kw_15min_since: list[float] = field(default_factory=list)  # per seed, from cap_from_s on
    cap_kw: float | None = None
    cap_from_s: float = 0.0
    cap_broken_seeds: list[int] = field(default_factory=list)

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
            "meets_demand": self.meets_demand,
            "peak_kw_15min": self.peak_kw_15min,
            "peak_kw_15min_since": self.peak_kw_15min_since,
            "cap_kw": self.cap_kw,
            "cap_from_s": self.cap_from_s,
            "cap_ok": None if self.cap_kw is None else not self.cap_broken_seeds,
            "cap_broken_seeds": self.cap_broken_seeds,
        }


def _peaks(res: CheckResult, since: float) -> tuple[list[float], list[float]]:
    """Per seed, the highest simulated 15-minute average: over the horizon, and from ``since`` on."""
    whole = [r.peak_kw_15min for r in res.per_seed]
    later = [max((kw for s, kw in r.kw_15min if s >= since - 1e-6), default=0.0) for r in res.per_seed]
    return whole, later


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
    demand of every model (``tolerance`` 0.02 accepts plans within 2 % of demand) and no seed's 15-minute
    peak (from the plan's ``cap_from_s`` on) exceeds the cap the plan was made under."""
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
    meets = all(done_min.get(m, 0.0) >= q * (1.0 - tolerance) - 1e-9 for m, q in wanted.items())
    cap, since = plan_cap(plan)
    whole, later = _peaks(res, since)
    broken = [s for s, pk in zip(seeds, later, strict=True) if cap is not None and pk > cap + 1e-6]
    return PlanCheck(
        ok=meets and not broken,
        fulfilment_mean=float(agg.get("fulfilment_mean", 0.0)),
        fulfilment_min=float(agg.get("fulfilment_min", 0.0)),
        demand_fulfilment=demand_ful,
        missing=missing,
        seeds=list(seeds),
        wall_s=round(time.perf_counter() - t0, 3),
        aggregate=agg,
        meets_demand=meets,
        peak_kw_15min=whole,
        peak_kw_15min_since=later,
        cap_kw=cap,
        cap_from_s=since,
        cap_broken_seeds=broken,
    )
