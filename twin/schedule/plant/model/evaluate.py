"""The objective of any schedule, counted exactly as the CP-SAT model counts it.

A re-planner uses it to compare a schedule it did not solve for (the old plan, kept) with the solver's.
"""

from __future__ import annotations

from collections.abc import Iterable

from twin.schedule.plant.model.costs import SCALE, all_windows, campaign_cost, lot_cost, overlaps, window_cost
from twin.schedule.plant.model.pricing import priced_total
from twin.schedule.plant.model.results import Scheduled, Score
from twin.schedule.plant.problem import PlantProblem

__all__ = ["evaluate"]


def evaluate(
    problem: PlantProblem,
    schedule: Iterable[Scheduled],
    powered: Iterable[tuple[str, int, int]] = (),
    off: Iterable[tuple[str, int, int]] = (),
) -> Score:
    """The objective of ``schedule`` for ``problem``, exactly as the CP-SAT model counts it.

    ``powered`` adds windows ``(resource, start, end)`` that stay powered even without work (an old
    plan's shift staffing, when it is kept as it is); ``off`` are the hours it switches resources off
    inside powered windows (objective "cost", :mod:`twin.schedule.plant.model.pricing`).
    """
    w = problem.weights
    placed = {s.lot: s for s in schedule}
    total = 0
    unmet = tardy = moved = reassigned = 0
    kwh = 0.0
    active: set[tuple[str, int]] = set()
    campaigns: set[tuple[str, str]] = set()
    for lot in problem.lots:
        s = placed.get(lot.id)
        if s is None:
            unmet += lot.quantity
            total += lot.quantity * w.unmet_car * SCALE
            continue
        total += lot_cost(problem, lot, s.resource)
        kwh += problem.modes[lot.model][s.resource].extra_kwh(lot.quantity)
        campaigns.add((s.resource, lot.model))
        for i, win in enumerate(all_windows(problem, s.resource)):
            if overlaps(win, s.start, s.end):
                active.add((s.resource, i))
        if lot.due is not None and lot.fixed is None and s.end > lot.due:
            tardy += s.end - lot.due
            total += (s.end - lot.due) * w.tardy_min
        ref = problem.reference.get(lot.id)
        if ref is not None and lot.fixed is None:
            moved += abs(s.start - ref[1])
            total += abs(s.start - ref[1]) * w.moved_min
            if s.resource != ref[0]:
                reassigned += 1
                total += w.reassigned * SCALE
    for rid, a, b in powered:
        for i, win in enumerate(all_windows(problem, rid) if rid in problem.resources else ()):
            if overlaps(win, a, b):
                active.add((rid, i))
    for rid, i in active:
        win = all_windows(problem, rid)[i]
        total += window_cost(problem, rid, win)
        kwh += problem.resources[rid].idle_kw * win.length / 3600.0
    for _rid, model in campaigns:
        total += campaign_cost(problem, model)
    total += priced_total(problem, placed.values(), active, off)
    return Score(total, unmet, tardy, round(kwh, 3), len(active), len(campaigns), moved, reassigned)
