"""The plant model's constraints across lots: precedences, symmetry, resources, the power cap.

Per resource a no-overlap; changeovers as *campaigns*: all lots of one model on one resource form one
contiguous block, and two blocks on a resource are ordered by a literal with the sequence-dependent
changeover between them (a few literals per resource instead of a circuit over all lots; at most
``models - 1`` changeovers per resource). A literal per (resource, window) says the resource is powered
then. The power cap is :mod:`twin.schedule.plant.model.energy`'s.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from twin.schedule.plant.model.costs import all_windows, overlaps
from twin.schedule.plant.model.variables import Alternative, ModelVars
from twin.schedule.plant.problem import PlantLot, PlantProblem

__all__ = [
    "ResourceVars",
    "add_capacity_cut",
    "add_precedences",
    "add_resources",
    "add_symmetry_breaking",
]


@dataclass
class ResourceVars:
    """Per resource: a literal per model campaign built there, a literal per window it is powered in."""

    campaigns: dict[str, cp_model.IntVar] = field(default_factory=dict)
    powered: dict[int, cp_model.IntVar] = field(default_factory=dict)


def add_precedences(m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars) -> None:
    """A successor waits for its predecessors and is dropped if one of them is."""
    for lot in problem.lots:
        mine = mv.lots[lot.id]
        for p_id in lot.predecessors:
            if p_id not in mv.lots:
                continue
            pred = mv.lots[p_id]
            if mine.unscheduled is not None:
                m.add(mine.start >= pred.end).only_enforce_if([mine.unscheduled.Not()])
                if pred.unscheduled is not None:
                    m.add_implication(pred.unscheduled, mine.unscheduled)
            else:
                m.add(mine.start >= pred.end)


def add_symmetry_breaking(m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars) -> None:
    """Interchangeable lots of a model are built in index order (and dropped from the last)."""
    groups: dict[tuple[str, int, int, int | None, tuple[str, ...]], list[PlantLot]] = defaultdict(list)
    for lot in problem.lots:
        if lot.fixed is None:
            groups[(lot.model, lot.quantity, lot.release, lot.due, lot.predecessors)].append(lot)
    for group in groups.values():
        group.sort(key=lambda x: x.index)
        for a_lot, b_lot in itertools.pairwise(group):
            a, b = mv.lots[a_lot.id], mv.lots[b_lot.id]
            assert a.unscheduled is not None and b.unscheduled is not None
            m.add_implication(a.unscheduled, b.unscheduled)
            m.add(a.start <= b.start).only_enforce_if(b.unscheduled.Not())


def _campaigns(
    m: cp_model.CpModel, problem: PlantProblem, rid: str, items: list[Alternative], rv: ResourceVars
) -> None:
    """One block per model on ``rid``, ordered pairwise with the changeover between them."""
    H = problem.horizon
    models = sorted({a.lot.model for a in items})
    spans: dict[str, tuple[cp_model.IntVar, cp_model.IntVar]] = {}
    for model in models:
        mine = [a for a in items if a.lot.model == model]
        c = m.new_bool_var(f"c_{rid}_{model}")
        cs = m.new_int_var(0, H, f"cs_{rid}_{model}")
        ce = m.new_int_var(0, 2 * H, f"ce_{rid}_{model}")
        for a in mine:
            m.add_implication(a.presence, c)
            m.add(cs <= a.start).only_enforce_if(a.presence)
            m.add(ce >= a.end).only_enforce_if(a.presence)
        m.add_bool_or([a.presence for a in mine]).only_enforce_if(c)
        rv.campaigns[model] = c
        spans[model] = (cs, ce)
        init = problem.resources[rid].initial_model
        has_fixed = any(a.win is None for a in items)
        if init is not None and init != model and not has_fixed:
            m.add(cs >= problem.now + problem.changeover_s(init, model)).only_enforce_if(c)
    for i, ma in enumerate(models):
        for mb in models[i + 1 :]:
            ca, (sa, ea) = rv.campaigns[ma], spans[ma]
            cb, (sb, eb) = rv.campaigns[mb], spans[mb]
            before = m.new_bool_var(f"o_{rid}_{ma}_{mb}")
            m.add(ea + problem.changeover_s(ma, mb) <= sb).only_enforce_if([ca, cb, before])
            m.add(eb + problem.changeover_s(mb, ma) <= sa).only_enforce_if([ca, cb, before.Not()])


def _powered(
    m: cp_model.CpModel, problem: PlantProblem, rid: str, items: list[Alternative], rv: ResourceVars
) -> None:
    """A literal per window of ``rid`` that holds work: on when a lot is built there (always, when a
    frozen lot overlaps it)."""
    for wi, w in enumerate(all_windows(problem, rid)):
        inside = [a.presence for a in items if a.win == wi]
        fixed_here = any(
            a.win is None and overlaps(w, a.lot.fixed.start, a.lot.fixed.start + a.duration)
            for a in items
            if a.lot.fixed is not None
        )
        if not inside and not fixed_here:
            continue
        on = m.new_bool_var(f"on_{rid}_{wi}")
        for p in inside:
            m.add_implication(p, on)
        if fixed_here:
            m.add(on == 1)
        else:
            m.add_bool_or(inside).only_enforce_if(on)
        rv.powered[wi] = on


def add_resources(m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars) -> dict[str, ResourceVars]:
    """Per resource: no overlap, campaigns with changeovers, powered windows."""
    by_res: dict[str, list[Alternative]] = defaultdict(list)
    for a in mv.alternatives:
        by_res[a.rid].append(a)
    out: dict[str, ResourceVars] = {}
    for rid, items in by_res.items():
        m.add_no_overlap([a.interval for a in items])
        rv = out[rid] = ResourceVars()
        _campaigns(m, problem, rid, items, rv)
        _powered(m, problem, rid, items, rv)
    return out


def add_capacity_cut(m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars) -> None:
    """Unmet cars are at least the demand no plan can build (the LP bound, ``problem.max_cars``): a valid
    cut that lets the solver prove a plan optimal on the unmet level."""
    if problem.max_cars is None:
        return
    total = sum(lot.quantity for lot in problem.lots)
    if total <= problem.max_cars:
        return
    open_lots = [(mv.lots[lot.id].unscheduled, lot.quantity) for lot in problem.lots]
    m.add(sum(q * u for u, q in open_lots if u is not None) >= total - problem.max_cars)
