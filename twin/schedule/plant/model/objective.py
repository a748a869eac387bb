"""The plant model's objective, weighted so each level dominates the next.

Levels (see :class:`twin.schedule.plant.problem.Weights`): unmet cars and tardiness, then energy (idle draw
of every powered (resource, shift window) + processing energy) and campaigns, then stability against a
reference plan (minutes moved, lots reassigned). :func:`twin.schedule.plant.model.evaluate` counts the
same terms for any schedule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ortools.sat.python import cp_model

from twin.schedule.plant.model.constraints import ResourceVars
from twin.schedule.plant.model.costs import SCALE, all_windows, campaign_cost, lot_cost, window_cost
from twin.schedule.plant.model.variables import LotVars, ModelVars
from twin.schedule.plant.problem import PlantLot, PlantProblem

__all__ = ["objective_terms", "set_objective"]

Term = tuple[cp_model.LinearExprT, int]


def _lot_terms(problem: PlantProblem, lot: PlantLot, lv: LotVars) -> list[Term]:
    """A lot's terms: unmet cars, processing energy per alternative, lateness, moves against the
    reference (a frozen lot: its energy as a constant, so totals match ``evaluate``)."""
    w = problem.weights
    if lv.unscheduled is None:
        a = lv.alternatives[0]
        return [(a.presence, lot_cost(problem, lot, a.rid))]
    u = lv.unscheduled
    terms: list[Term] = [(u, lot.quantity * w.unmet_car * SCALE)]
    for a in lv.alternatives:
        cost = lot_cost(problem, lot, a.rid)
        if cost:
            terms.append((a.presence, cost))
    if lv.tardy is not None:
        terms.append((lv.tardy, w.tardy_min))
    ref = problem.reference.get(lot.id)
    if ref is not None and lv.deviation is not None:
        terms.append((lv.deviation, w.moved_min))
        same = [a.presence for a in lv.alternatives if a.rid == ref[0]]
        # reassigned = 1 - u - sum(same): the lot is built, but not on its old resource.
        terms.append((1 - u - sum(same), w.reassigned * SCALE))
    return terms


def objective_terms(
    problem: PlantProblem, mv: ModelVars, resources: Mapping[str, ResourceVars]
) -> list[Term]:
    """Every ``(expression, coefficient)`` of the objective: per lot, then per resource its campaigns and
    powered windows."""
    terms: list[Term] = []
    for lot in problem.lots:
        terms += _lot_terms(problem, lot, mv.lots[lot.id])
    for rid, rv in resources.items():
        terms += [(c, campaign_cost(problem, model)) for model, c in rv.campaigns.items()]
        wins = all_windows(problem, rid)
        terms += [(on, window_cost(problem, rid, wins[wi])) for wi, on in rv.powered.items()]
    return terms


def set_objective(
    m: cp_model.CpModel,
    problem: PlantProblem,
    mv: ModelVars,
    resources: Mapping[str, ResourceVars],
    extra: Sequence[Term] = (),
) -> None:
    """Minimise the weighted sum of :func:`objective_terms` and ``extra`` (the energy terms of the
    objectives "cost" and "time", :mod:`twin.schedule.plant.model.energy`)."""
    m.minimize(sum(coef * var for var, coef in [*objective_terms(problem, mv, resources), *extra]))
