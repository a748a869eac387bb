"""Pricing a plant schedule for the objectives "cost" and "time" (used by the model and by ``evaluate``).

**Objective "cost"**: a lot's processing energy is priced by the tariff over the time it runs, a powered
window's idle energy over the window. A lot's start picks a clock hour (one literal per hour its alternative
may start in, with the lot's cost averaged over starts at the hour's four quarter-hours: finer grains made
the search erratic within a re-plan's few seconds), so the solver moves energy-heavy lots out of peak-price
hours where windows and due dates allow. Inside a powered
window a resource may also be **switched off** for whole clock hours in which it builds nothing (an optional
interval per hour in a no-overlap with its lots): the hour's idle energy is saved, and its idle power no
longer counts against the power cap. A kWh at the horizon's mean price weighs what a kWh weighs under the
objective "energy" (:class:`twin.schedule.plant.problem.Weights`).

**Objective "time"**: the sum of the lots' finishing times (``Weights.finish_min``); kWh only break ties.

:func:`priced_total` counts the same terms for any schedule (with the hours it leaves switched off).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ortools.sat.python import cp_model

from twin.schedule.plant.model.constraints import ResourceVars
from twin.schedule.plant.model.costs import SCALE, all_windows, overlaps
from twin.schedule.plant.model.results import Scheduled
from twin.schedule.plant.model.variables import Alternative, ModelVars
from twin.schedule.plant.problem import PlantLot, PlantProblem, Window

__all__ = [
    "HOUR_S",
    "QUARTER_S",
    "START_GRAIN_S",
    "Block",
    "Picks",
    "Term",
    "fixed_blocks",
    "forced_windows",
    "hour_blocks",
    "off_blocks_of",
    "priced_total",
    "pricing_terms",
    "switches_off",
]

Term = tuple[cp_model.LinearExprT, int]

#: The grain a lot's start is priced at: one literal per clock hour its alternative may start in, with the
#: lot's cost averaged over starts at the hour's four quarter-hours (the meter's grain).
START_GRAIN_S = 3600
QUARTER_S = 900
#: The grain a resource is switched off at, inside a powered window (clock hours).
HOUR_S = 3600


@dataclass
class Block:
    """One clock hour of a powered window: ``off`` (None: it cannot be switched off, a frozen lot runs
    in it) and ``on``, the literal that the resource draws idle power in it."""

    rid: str
    wi: int
    start: int
    end: int
    off: cp_model.IntVar | None
    on: cp_model.IntVar
    window: cp_model.IntVar  # the window's powered literal


#: One alternative's start literals: ``(alternative, grain starts, one literal per start)``.
Picks = tuple[Alternative, list[int], list[cp_model.IntVar]]


def duration(problem: PlantProblem, lot: PlantLot, rid: str) -> int:
    """A lot's duration on a resource."""
    return problem.modes[lot.model][rid].duration(lot.quantity)


def switches_off(problem: PlantProblem) -> bool:
    """Resources may be switched off hour by hour inside their powered windows (objective "cost")."""
    return problem.objective == "cost" and problem.tariff is not None


def forced_windows(problem: PlantProblem) -> set[tuple[str, int]]:
    """The (resource, window) pairs a frozen lot overlaps: powered whatever the plan (as the model has it)."""
    out: set[tuple[str, int]] = set()
    for lot in problem.lots:
        if lot.fixed is not None:
            rid, start = lot.fixed.resource, lot.fixed.start
            end = start + duration(problem, lot, rid)
            out |= {(rid, wi) for wi, w in enumerate(all_windows(problem, rid)) if overlaps(w, start, end)}
    return out


def hour_blocks(problem: PlantProblem, w: Window) -> list[tuple[int, int]]:
    """``w`` cut at the clock's hours (the first and last block may be shorter)."""
    off = round(problem.origin) % HOUR_S
    bounds = [w.start]
    t = w.start + (HOUR_S - (w.start + off) % HOUR_S)
    while t < w.end:
        bounds.append(t)
        t += HOUR_S
    bounds.append(w.end)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _frozen_spans(problem: PlantProblem) -> dict[str, list[tuple[int, int]]]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for lot in problem.lots:
        if lot.fixed is not None:
            rid, start = lot.fixed.resource, lot.fixed.start
            spans.setdefault(rid, []).append((start, start + duration(problem, lot, rid)))
    return spans


def fixed_blocks(problem: PlantProblem) -> list[tuple[str, int, int]]:
    """Idle draw no plan can avoid, ``(resource, start, end)``: the windows frozen lots force on (with
    switch-off, only their hours a frozen lot runs in)."""
    frozen = _frozen_spans(problem)
    out: list[tuple[str, int, int]] = []
    for rid, wi in sorted(forced_windows(problem)):
        w = all_windows(problem, rid)[wi]
        if not switches_off(problem):
            out.append((rid, w.start, w.end))
            continue
        for a, b in hour_blocks(problem, w):
            if any(s < b and e > a for s, e in frozen.get(rid, [])):
                out.append((rid, a, b))
    return out


# ------------------------------------------------------------------------------------------- the model
def add_blocks(
    m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars, resources: Mapping[str, ResourceVars]
) -> list[Block]:
    """Per powered window an hour block each, switchable off when it holds no lot (see the module)."""
    if not switches_off(problem):
        return []
    frozen = _frozen_spans(problem)
    blocks: list[Block] = []
    for rid, rv in resources.items():
        wins = all_windows(problem, rid)
        offs: list[cp_model.IntervalVar] = []
        for wi, on in rv.powered.items():
            for a, b in hour_blocks(problem, wins[wi]):
                if any(s < b and e > a for s, e in frozen.get(rid, [])):
                    blocks.append(Block(rid, wi, a, b, None, on, on))
                    continue
                off = m.new_bool_var(f"off_{rid}_{wi}_{a}")
                lit = m.new_bool_var(f"idle_{rid}_{wi}_{a}")
                m.add_implication(off, on)
                m.add_bool_or([on.Not(), off, lit])  # powered and not off: idle power drawn
                m.add_implication(lit, on)
                m.add_implication(lit, off.Not())
                offs.append(m.new_optional_fixed_size_interval_var(a, b - a, off, f"offiv_{rid}_{wi}_{a}"))
                blocks.append(Block(rid, wi, a, b, off, lit, on))
        if offs:
            m.add_no_overlap([a.interval for a in mv.alternatives if a.rid == rid] + offs)
    return blocks


def _cost_weight(problem: PlantProblem) -> float:
    """Objective units per currency unit: a kWh at the horizon's mean price weighs ``Weights.energy_cost``."""
    assert problem.tariff is not None
    mean = problem.tariff.mean_price(0, max(1, problem.horizon))
    return problem.weights.energy_cost * SCALE / mean if mean > 0 else 0.0


def _cost(problem: PlantProblem, kwh: float, start: int, length: int, weight: float) -> int:
    """The weighted tariff cost of ``kwh`` spread over ``[start, start + length)``."""
    assert problem.tariff is not None
    return round(kwh * problem.tariff.mean_price(start, start + max(1, length)) * weight)


def _idle_cost(problem: PlantProblem, rid: str, a: int, b: int, weight: float) -> int:
    return _cost(problem, problem.resources[rid].idle_kw * (b - a) / 3600.0, a, b - a, weight)


def _grain_offset(problem: PlantProblem) -> int:
    return round(problem.origin) % START_GRAIN_S


def _priced_start(problem: PlantProblem, t: int) -> int:
    """The beginning of the clock hour (start grain) a lot starting at ``t`` is priced for."""
    off = _grain_offset(problem)
    return (t + off) // START_GRAIN_S * START_GRAIN_S - off


def _start_cost(problem: PlantProblem, kwh: float, grain_start: int, length: int, weight: float) -> int:
    """A lot's cost for a start in the grain beginning at ``grain_start``: the mean over its quarter-hours."""
    costs = [_cost(problem, kwh, grain_start + q, length, weight) for q in range(0, START_GRAIN_S, QUARTER_S)]
    return round(sum(costs) / len(costs))


def _alternative_terms(
    m: cp_model.CpModel, problem: PlantProblem, a: Alternative, weight: float, picked: list[Picks]
) -> list[Term]:
    """A lot's processing cost on one alternative: a literal per quarter-hour it may start in."""
    kwh = problem.modes[a.lot.model][a.rid].extra_kwh(a.lot.quantity)
    if kwh <= 0:
        return []
    if a.win is None or a.lot.fixed is not None:  # frozen: a constant
        start = a.lot.fixed.start if a.lot.fixed is not None else 0
        return [(a.presence, _cost(problem, kwh, start, a.duration, weight))]
    w = all_windows(problem, a.rid)[a.win]
    first = _priced_start(problem, max(w.start, a.lot.release))
    starts = list(range(first, w.end - a.duration + 1, START_GRAIN_S))
    table = [_start_cost(problem, kwh, t, a.duration, weight) for t in starts]
    base = min(table)
    if base == max(table):
        return [(a.presence, base)]
    picks = [m.new_bool_var(f"q_{a.lot.id}_{a.rid}_{a.win}_{t}") for t in starts]
    m.add(sum(picks) == a.presence)
    picked.append((a, starts, picks))
    for t, pick in zip(starts, picks, strict=True):
        m.add(a.start >= t).only_enforce_if(pick)
        m.add(a.start <= t + START_GRAIN_S - 1).only_enforce_if(pick)
    terms: list[Term] = [(a.presence, base)]
    return terms + [(p, c - base) for p, c in zip(picks, table, strict=True) if c != base]


def _finish_terms(m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars) -> list[Term]:
    """Objective "time": each built lot's end (0 when unscheduled: unmet cars weigh far more)."""
    terms: list[Term] = []
    for lot in problem.lots:
        lv = mv.lots[lot.id]
        if lot.fixed is not None or lv.unscheduled is None:
            continue
        f = m.new_int_var(0, 2 * problem.horizon, f"f_{lot.id}")
        m.add(f == lv.end).only_enforce_if(lv.unscheduled.Not())
        m.add(f == 0).only_enforce_if(lv.unscheduled)
        terms.append((f, problem.weights.finish_min))
    return terms


def pricing_terms(
    m: cp_model.CpModel,
    problem: PlantProblem,
    mv: ModelVars,
    resources: Mapping[str, ResourceVars],
    blocks: Sequence[Block],
    picked: list[Picks] | None = None,
) -> list[Term]:
    """The objective terms of "cost" (lots and powered windows by the tariff, hours switched off credited)
    and "time" (finishing times); none under "energy". ``picked`` collects the start literals."""
    if problem.objective == "time":
        return _finish_terms(m, problem, mv)
    if not switches_off(problem):
        return []
    weight = _cost_weight(problem)
    terms: list[Term] = []
    for a in mv.alternatives:
        terms += _alternative_terms(m, problem, a, weight, picked if picked is not None else [])
    for rid, rv in resources.items():
        wins = all_windows(problem, rid)
        terms += [
            (on, _idle_cost(problem, rid, wins[wi].start, wins[wi].end, weight))
            for wi, on in rv.powered.items()
        ]
    terms += [
        (b.off, -_idle_cost(problem, b.rid, b.start, b.end, weight)) for b in blocks if b.off is not None
    ]
    return terms


# ------------------------------------------------------------------------------------- any schedule
def off_blocks_of(
    problem: PlantProblem, schedule: Iterable[Scheduled], powered: Iterable[tuple[str, int, int]]
) -> list[tuple[str, int, int]]:
    """The hour blocks a schedule leaves switched off: blocks of its powered windows that no lot and no
    ``powered`` interval of the resource overlaps (resources without ``powered`` intervals: none)."""
    if not switches_off(problem):
        return []
    lots: dict[str, list[tuple[int, int]]] = {}
    for s in schedule:
        lots.setdefault(s.resource, []).append((s.start, s.end))
    spans: dict[str, list[tuple[int, int]]] = {}
    for rid, a, b in powered:
        spans.setdefault(rid, []).append((a, b))
    out: list[tuple[str, int, int]] = []
    for rid, mine in lots.items():
        if rid not in spans or rid not in problem.resources:
            continue
        for w in all_windows(problem, rid):
            if not any(overlaps(w, s, e) for s, e in mine):
                continue
            for a, b in hour_blocks(problem, w):
                if not any(s < b and e > a for s, e in mine + spans[rid]):
                    out.append((rid, a, b))
    return out


def priced_total(
    problem: PlantProblem,
    schedule: Iterable[Scheduled],
    active: Iterable[tuple[str, int]],
    off: Iterable[tuple[str, int, int]] = (),
) -> int:
    """:func:`pricing_terms` counted for a schedule, its powered (resource, window) pairs and the hour
    blocks it switches off."""
    placed = list(schedule)
    fixed = {lot.id for lot in problem.lots if lot.fixed is not None}
    if problem.objective == "time":
        return sum(s.end * problem.weights.finish_min for s in placed if s.lot not in fixed)
    if not switches_off(problem):
        return 0
    weight = _cost_weight(problem)
    total = 0
    for s in placed:
        kwh = problem.modes[s.model][s.resource].extra_kwh(s.quantity)
        if kwh > 0:
            if s.lot in fixed:
                total += _cost(problem, kwh, s.start, s.end - s.start, weight)
            else:
                total += _start_cost(problem, kwh, _priced_start(problem, s.start), s.end - s.start, weight)
    for rid, wi in active:
        w = all_windows(problem, rid)[wi]
        total += _idle_cost(problem, rid, w.start, w.end, weight)
    return total - sum(_idle_cost(problem, rid, a, b, weight) for rid, a, b in off)
