"""``twin bench replan`` key ``scale``: re-planning generated plants of real size after a demand drop.

Per plant (``twin plant generate``: 16 shift hours, default demand): a first plan the classic way, then
the dedicated line's model drops by ``drop``, then a re-plan one hour into the first shift (what
``twin replan`` does). ``cars`` is what the re-plan builds, ``bound`` the LP capacity bound of the same
problem (:mod:`twin.schedule.plant.capacity`), ``share`` their ratio: the baseline is the bound itself.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.replan import DEMO_ORIGIN, home_model
from twin.config import plant_from_data
from twin.generate import generate_plant
from twin.model import STANDARD_TAGS, Plant
from twin.schedule.plant.capacity import capacity_bound
from twin.schedule.plant.replan import ReplanConfig, replan

__all__ = ["SCALE_PLANTS", "scale_plant", "scale_scenario"]

#: (lines, stations) of the plants the bench re-plans (``--quick``: the first one only).
SCALE_PLANTS: tuple[tuple[int, int], ...] = ((10, 50), (3, 300))


def scale_plant(lines: int, stations: int, seed: int = 0) -> Plant:
    """A generated plant with the standard tags only (tags do not matter to the planner)."""
    return plant_from_data(generate_plant(lines, stations, len(STANDARD_TAGS), seed=seed))


def scale_scenario(
    lines: int, stations: int, *, drop: float = 0.6, time_limit_s: float = 8.0, at_s: int = 3600
) -> dict[str, Any]:
    """First plan, demand drop, re-plan; the figures of one plant."""
    plant = scale_plant(lines, stations)
    _line, model = home_model(plant)
    demand = dict(plant.demand)
    cfg = ReplanConfig(time_limit_s=time_limit_s, workers=2)
    t0 = time.perf_counter()
    first = replan(plant, demand, current=None, now=DEMO_ORIGIN, config=cfg, reason="first plan")
    first_s = time.perf_counter() - t0
    demand[model] = round(demand[model] * (1.0 - drop))
    t0 = time.perf_counter()
    res = replan(plant, demand, current=first.plan, now=DEMO_ORIGIN + at_s, config=cfg, reason="drop")
    replan_s = time.perf_counter() - t0
    cap = capacity_bound(res.problem)
    cars = res.plan.kpis["cars"]
    first_cap = capacity_bound(first.problem)
    return {
        "name": f"{lines}x{stations}",
        "lines": lines,
        "stations": lines * stations,
        "cars": cars,
        "bound": cap.total,
        "share": round(cars / cap.total, 4) if cap.total else 1.0,
        "replan_s": round(replan_s, 3),
        "demand": sum(demand.values()),
        "unmet_capacity": cap.unmet_by_capacity,
        "unmet_plan": cap.report(cars)["unmet_plan"],
        "lots": len(res.problem.lots),
        "kept_old": res.kept_old,
        "status": res.solve.status if res.solve else None,
        "first_plan": {
            "cars": first.plan.kpis["cars"],
            "bound": first_cap.total,
            "plan_s": round(first_s, 3),
        },
        "dropped_model": model,
    }
