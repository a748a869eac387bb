"""The energy side of the plant model: the power cap and the hook for the energy objectives.

**Power cap** (instantaneous, what :func:`twin.schedule.plant.energy.instantaneous_peak_kw` reports): a
powered (resource, window) draws its idle kW through the window (less the hours it is switched off, under
the objective "cost"), a lot adds ``rated - idle`` kW of its resource while it runs, so a resource building
draws its rated kW and the others their idle kW. One cumulative holds it all under the cap. Frozen lots and
the idle draw they force are *fixed load*: counted as it is, clipped at the cap (work in progress that a
cap set now exceeds stays where it is, and nothing else may run until it drops under the cap);
:func:`cap_holds_from` says when that is. :func:`min_feasible_cap` is the plant's minimum powered load,
checked before any solve.

:func:`add_energy` is what :func:`twin.schedule.plant.model.solve.build_model` calls: the switch-off hours
and the objective terms of "cost" and "time" (:mod:`twin.schedule.plant.model.pricing`), and the cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from twin.schedule.plant.model.constraints import ResourceVars
from twin.schedule.plant.model.costs import all_windows, overlaps
from twin.schedule.plant.model.pricing import (
    START_GRAIN_S,
    Block,
    Picks,
    Term,
    add_blocks,
    duration,
    fixed_blocks,
    pricing_terms,
)
from twin.schedule.plant.model.results import Scheduled
from twin.schedule.plant.model.variables import ModelVars
from twin.schedule.plant.problem import PlantProblem

__all__ = [
    "EnergyVars",
    "add_energy",
    "add_power_cap",
    "cap_holds_from",
    "fixed_load",
    "hint_energy",
    "min_feasible_cap",
    "power_errors",
    "switched_off",
]


@dataclass
class EnergyVars:
    """What :func:`add_energy` added: the switchable hour blocks, the start literals, the objective terms."""

    blocks: list[Block] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    picks: list[Picks] = field(default_factory=list)


def add_energy(
    m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars, resources: Mapping[str, ResourceVars]
) -> EnergyVars:
    """Switch-off hours, the power cap and the energy objective terms (see the module docstring)."""
    blocks = add_blocks(m, problem, mv, resources)
    add_power_cap(m, problem, mv, resources, blocks)
    picks: list[Picks] = []
    return EnergyVars(blocks, pricing_terms(m, problem, mv, resources, blocks, picks), picks)


def hint_energy(m: cp_model.CpModel, ev: EnergyVars, hint: Sequence[Scheduled]) -> None:
    """Complete a hint with the energy literals: each hinted lot's start literal, and every hour of a
    powered window that holds none of the resource's hinted lots switched off."""
    placed = {s.lot: s for s in hint}
    for a, starts, lits in ev.picks:
        s = placed.get(a.lot.id)
        chosen = s is not None and s.resource == a.rid and starts[0] <= s.start
        for t, lit in zip(starts, lits, strict=True):
            m.add_hint(lit, bool(chosen and s is not None and t <= s.start < t + START_GRAIN_S))
    lots: dict[str, list[tuple[int, int]]] = {}
    for s in hint:
        lots.setdefault(s.resource, []).append((s.start, s.end))
    span: dict[tuple[str, int], tuple[int, int]] = {}
    for b in ev.blocks:
        lo, hi = span.get((b.rid, b.wi), (b.start, b.end))
        span[(b.rid, b.wi)] = (min(lo, b.start), max(hi, b.end))
    for b in ev.blocks:
        if b.off is None:
            continue
        lo, hi = span[(b.rid, b.wi)]
        powered = any(x < hi and y > lo for x, y in lots.get(b.rid, []))
        busy = any(x < b.end and y > b.start for x, y in lots.get(b.rid, []))
        m.add_hint(b.off, powered and not busy)
        m.add_hint(b.on, powered and busy)


def switched_off(solver: cp_model.CpSolver, ev: EnergyVars) -> list[tuple[str, int, int]]:
    """The hour blocks the solution switches off, ``(resource, start, end)``."""
    return [(b.rid, b.start, b.end) for b in ev.blocks if b.off is not None and solver.boolean_value(b.off)]


def _kw(problem: PlantProblem, rid: str) -> tuple[int, int]:
    """``(rated, idle)`` kW of a resource, rounded as the cap counts them."""
    r = problem.resources[rid]
    return round(r.run_kw), round(r.idle_kw)


def _step(pieces: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Pieces ``(start, end, kW)`` summed into a step function of non-overlapping segments with load."""
    events: dict[int, int] = {}
    for a, b, kw in pieces:
        if b > a and kw:
            events[a] = events.get(a, 0) + kw
            events[b] = events.get(b, 0) - kw
    out: list[tuple[int, int, int]] = []
    load, prev = 0, None
    for t in sorted(events):
        if prev is not None and load > 0 and t > prev:
            out.append((prev, t, load))
        load += events[t]
        prev = t
    return out


def fixed_load(problem: PlantProblem) -> list[tuple[int, int, int]]:
    """The load nothing in the re-plan can move, from ``now`` on, as a step function: frozen lots (rated
    above idle) and the idle draw they force (:func:`twin.schedule.plant.model.pricing.fixed_blocks`)."""
    now = problem.now
    pieces: list[tuple[int, int, int]] = []
    for lot in problem.lots:
        if lot.fixed is not None:
            rid, start = lot.fixed.resource, lot.fixed.start
            run, idle = _kw(problem, rid)
            pieces.append((max(start, now), start + duration(problem, lot, rid), run - idle))
    for rid, a, b in fixed_blocks(problem):
        pieces.append((max(a, now), b, _kw(problem, rid)[1]))
    return _step(pieces)


def cap_holds_from(problem: PlantProblem) -> int:
    """When the power cap holds: ``now``, or the end of the last stretch where the fixed load alone exceeds
    it (work in progress planned before this cap)."""
    cap = problem.power_cap_kw
    over = [b for _a, b, kw in fixed_load(problem) if cap is not None and kw > cap + 1e-6]
    return max([problem.now, *over])


def min_feasible_cap(problem: PlantProblem) -> tuple[float, str]:
    """The plant's minimum powered load for this demand, and what needs it: each model with new lots needs
    one of its resources powered and building (its rated kW), whatever else is off."""
    need, why = 0.0, ""
    for model in sorted({lot.model for lot in problem.lots if lot.fixed is None}):
        options = [r for r in problem.modes.get(model, {}) if problem.resources[r].windows]
        if not options:
            continue
        best = min(options, key=lambda r: (round(problem.resources[r].run_kw), r))
        kw = float(round(problem.resources[best].run_kw))
        if kw > need:
            need, why = kw, f"building {model} needs {kw:.0f} kW ({best} at rated power)"
    return need, why


def add_power_cap(
    m: cp_model.CpModel,
    problem: PlantProblem,
    mv: ModelVars,
    resources: Mapping[str, ResourceVars],
    blocks: Sequence[Block] = (),
) -> None:
    """Every powered resource's idle kW plus the lots running (rated above idle) stay under the cap; the
    fixed load counts clipped at the cap (see the module docstring)."""
    if problem.power_cap_kw is None:
        return
    cap = int(problem.power_cap_kw)
    if sum(_kw(problem, rid)[0] for rid in problem.resources) <= cap:
        return  # the whole plant at rated power fits: the cap cannot bind
    intervals: list[cp_model.IntervalVar] = []
    demands: list[int] = []
    for a in mv.alternatives:
        run, idle = _kw(problem, a.rid)
        if a.win is not None and run > idle:
            intervals.append(a.interval)
            demands.append(run - idle)
    fixed = {(rid, a) for rid, a, _b in fixed_blocks(problem)}
    by_window = {(b.rid, b.wi) for b in blocks}
    for b in blocks:  # switchable hours: idle while on and not off; fixed ones are in the fixed load
        if b.off is not None and _kw(problem, b.rid)[1] > 0:
            intervals.append(
                m.new_optional_fixed_size_interval_var(
                    b.start, b.end - b.start, b.on, f"pb_{b.rid}_{b.start}"
                )
            )
            demands.append(_kw(problem, b.rid)[1])
    for rid, rv in resources.items():
        idle, wins = _kw(problem, rid)[1], all_windows(problem, rid)
        for wi, on in rv.powered.items():
            w = wins[wi]
            if (rid, wi) in by_window or (rid, w.start) in fixed or idle <= 0:
                continue
            intervals.append(m.new_optional_fixed_size_interval_var(w.start, w.length, on, f"pw_{rid}_{wi}"))
            demands.append(idle)
    for i, (start, end, kw) in enumerate(fixed_load(problem)):
        intervals.append(m.new_fixed_size_interval_var(start, end - start, f"fx_{i}"))
        demands.append(min(kw, cap))
    m.add_cumulative(intervals, demands, cap)


def _powered_spans(
    problem: PlantProblem, schedule: Sequence[Scheduled], powered: Iterable[tuple[str, int, int]] | None
) -> dict[str, list[tuple[int, int]]]:
    """Per resource, when it is powered: ``powered`` if given, else the windows that hold its lots."""
    spans: dict[str, list[tuple[int, int]]] = {}
    if powered is not None:
        for rid, a, b in powered:
            spans.setdefault(rid, []).append((a, b))
    else:
        for s in schedule:
            if s.resource in problem.resources:
                wins = all_windows(problem, s.resource)
                spans.setdefault(s.resource, []).extend(
                    (w.start, w.end) for w in wins if overlaps(w, s.start, s.end)
                )
    return spans


def power_errors(
    problem: PlantProblem,
    schedule: Sequence[Scheduled],
    powered: Iterable[tuple[str, int, int]] | None = None,
) -> list[str]:
    """The schedule's instantaneous power (from ``now`` on) stays under the cap: rated kW of the resources
    building, idle kW of the other powered ones (``powered`` intervals if given, else the windows that hold
    lots), where the fixed load may exceed it only by itself (as :func:`add_power_cap` has it)."""
    cap = problem.power_cap_kw
    if cap is None:
        return []
    spans = _powered_spans(problem, schedule, powered)
    lots = [s for s in schedule if s.resource in problem.resources]
    fixed = fixed_load(problem)
    points = {problem.now, *(s.start for s in lots), *(a for iv in spans.values() for a, _b in iv)}
    points |= {a for a, _b, _k in fixed}
    for t in sorted(p for p in points if p >= problem.now):
        building = {s.resource for s in lots if s.start <= t < s.end}
        load = sum(_kw(problem, r)[0] for r in building)
        load += sum(
            _kw(problem, r)[1]
            for r, iv in spans.items()
            if r not in building and any(a <= t < b for a, b in iv)
        )
        base = sum(kw for a, b, kw in fixed if a <= t < b)
        if load > cap + max(0.0, base - cap) + 1e-6:
            return [f"peak power {load:.0f} kW exceeds the cap {cap:.0f} kW at t={t} s"]
    return []
