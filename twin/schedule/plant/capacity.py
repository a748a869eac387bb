"""How many cars the plant can build at most: an LP relaxation of the plant problem.

Per resource, the time its lots may hold it: its windows from ``now`` up to the latest entry that still
lets a car leave within the working time (:func:`~twin.schedule.plant.model.costs.last_entry_end`, with
the shortest fill of the models it builds), less the time frozen lots hold it there. Per model and
resource a number of cars ``y >= 0``, each holding the resource one ``per_car_s`` (set-ups, changeovers,
the power cap and whole lots are relaxed away); per model at most its demand. The LP's optimum bounds
every plan of the problem from above, so ``demand - bound`` cars are unmet *because of capacity* and the
rest of a plan's unmet cars *because of the plan*; the CP-SAT model takes ``demand - bound`` as a lower
bound of its unmet cars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ortools.linear_solver import pywraplp

from twin.errors import TwinError
from twin.schedule.plant.model.costs import last_entry_end
from twin.schedule.plant.problem import PlantProblem, Window

__all__ = ["Capacity", "capacity_bound", "entry_time"]


@dataclass(frozen=True)
class Capacity:
    """The LP bound: ``total`` cars at most (frozen lots included), one optimal split of it per model,
    and the entry seconds available per resource."""

    total: int
    per_model: dict[str, int]
    demand: int
    seconds: dict[str, int] = field(default_factory=dict)

    @property
    def unmet_by_capacity(self) -> int:
        """Cars no plan can build in the horizon."""
        return max(0, self.demand - self.total)

    def report(self, planned: int) -> dict[str, Any]:
        """The bound beside a plan that builds ``planned`` cars (what ``twin plan show`` prints)."""
        return {
            "bound": self.total,
            "per_model": dict(sorted(self.per_model.items())),
            "planned": planned,
            "share": round(planned / self.total, 4) if self.total else 1.0,
            "unmet_capacity": self.unmet_by_capacity,
            "unmet_plan": max(0, min(self.demand, self.total) - planned),
        }


def _clip(windows: tuple[Window, ...], end: int) -> list[tuple[int, int]]:
    return [(w.start, min(w.end, end)) for w in windows if min(w.end, end) > w.start]


def entry_time(problem: PlantProblem, rid: str) -> int:
    """Seconds lots may hold ``rid`` from now: its windows up to the latest useful entry, less the time
    frozen lots hold it inside them."""
    r = problem.resources[rid]
    drains = [mm[rid].drain_s for mm in problem.modes.values() if rid in mm]
    if not drains or not r.windows:
        return 0
    spans = _clip(r.windows, last_entry_end(r.windows, min(drains)))
    free = sum(b - a for a, b in spans)
    for lot in problem.lots:
        if lot.fixed is None or lot.fixed.resource != rid:
            continue
        s = lot.fixed.start
        e = s + problem.modes[lot.model][rid].duration(lot.quantity)
        free -= sum(max(0, min(b, e) - max(a, s)) for a, b in spans)
    return max(0, free)


def capacity_bound(problem: PlantProblem) -> Capacity:
    """Solve the LP (GLOP) of the module docstring."""
    frozen: dict[str, int] = {}
    for lot in problem.lots:
        if lot.fixed is not None:
            frozen[lot.model] = frozen.get(lot.model, 0) + lot.quantity
    wanted = {m: sum(lot.quantity for lot in problem.lots if lot.model == m) for m in problem.demand}
    seconds = {rid: entry_time(problem, rid) for rid in problem.resources}
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover - GLOP ships with OR-Tools
        raise TwinError("OR-Tools has no GLOP solver")
    y: dict[tuple[str, str], Any] = {}
    for model, per_res in problem.modes.items():
        for rid, mode in per_res.items():
            if seconds.get(rid, 0) > 0 and mode.per_car_s > 0 and wanted.get(model, 0) > frozen.get(model, 0):
                y[(model, rid)] = solver.NumVar(0.0, solver.infinity(), f"y_{model}_{rid}")
    for rid, sec in seconds.items():
        terms = [v * problem.modes[m][r].per_car_s for (m, r), v in y.items() if r == rid]
        if terms:
            solver.Add(sum(terms) <= sec)
    for model, q in wanted.items():
        terms = [v for (m, _r), v in y.items() if m == model]
        if terms:
            solver.Add(sum(terms) <= q - frozen.get(model, 0))
    solver.Maximize(sum(y.values()) if y else 0)
    if solver.Solve() != pywraplp.Solver.OPTIMAL:  # pragma: no cover - a bounded LP with 0 feasible
        raise TwinError("the capacity LP did not solve")
    per_model = {m: frozen.get(m, 0) for m in wanted}
    for (m, _r), v in y.items():
        per_model[m] += v.solution_value()
    total = math.floor(sum(per_model.values()) + 1e-6)
    rounded = _round_down(per_model, total)
    return Capacity(total, rounded, sum(wanted.values()), seconds)


def _round_down(values: Mapping[str, float], total: int) -> dict[str, int]:
    """Whole cars per model summing to ``total`` (largest remainders first)."""
    out = {m: math.floor(v + 1e-6) for m, v in values.items()}
    rest = sorted(values, key=lambda m: -(values[m] - out[m]))
    for m in rest[: max(0, total - sum(out.values()))]:
        out[m] += 1
    return out
