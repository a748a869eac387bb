"""The plant model's variables: per lot a start, an end, an "unscheduled" literal and alternatives.

An alternative is one optional fixed-size interval per (eligible resource, available window) the lot fits
in; exactly one alternative or the unscheduled literal is chosen. A frozen lot has one fixed interval.
Lateness and deviation from a reference plan get their own variables (the objective weighs them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from twin.schedule.plant.model.costs import all_windows, fits, last_entry_end
from twin.schedule.plant.problem import PlantLot, PlantProblem

__all__ = ["Alternative", "LotVars", "ModelVars", "lot_variables"]


@dataclass
class Alternative:
    """One way to build a lot: on ``rid`` in window ``win`` (None: a frozen lot, not tied to a window)."""

    lot: PlantLot
    rid: str
    win: int | None
    presence: cp_model.IntVar
    start: cp_model.IntVar
    end: cp_model.LinearExprT
    interval: cp_model.IntervalVar
    duration: int


@dataclass
class LotVars:
    """The variables of one lot (``unscheduled``, ``tardy`` and ``deviation`` are None where they do not
    apply: a frozen lot, no due time, no reference plan)."""

    start: cp_model.IntVar
    end: cp_model.IntVar
    alternatives: list[Alternative] = field(default_factory=list)
    unscheduled: cp_model.IntVar | None = None
    tardy: cp_model.IntVar | None = None
    deviation: cp_model.IntVar | None = None


@dataclass
class ModelVars:
    """Every lot's variables, and all alternatives in creation order."""

    lots: dict[str, LotVars] = field(default_factory=dict)
    alternatives: list[Alternative] = field(default_factory=list)


def _frozen(m: cp_model.CpModel, problem: PlantProblem, lot: PlantLot, lv: LotVars) -> None:
    """A frozen lot: one fixed interval where it is."""
    assert lot.fixed is not None
    rid = lot.fixed.resource
    d = problem.modes[lot.model][rid].duration(lot.quantity)
    one = m.new_constant(1)
    st = m.new_constant(lot.fixed.start)
    iv = m.new_interval_var(st, d, st + d, f"i_{lot.id}")
    lv.alternatives.append(Alternative(lot, rid, None, one, st, st + d, iv, d))
    m.add(lv.start == lot.fixed.start)
    m.add(lv.end == lot.fixed.start + d)


def _alternatives(m: cp_model.CpModel, problem: PlantProblem, lot: PlantLot, lv: LotVars) -> None:
    """One optional interval per (eligible resource, window the lot fits in), tied to the lot's start."""
    for rid in problem.eligible(lot):
        mode = problem.modes[lot.model][rid]
        d = mode.duration(lot.quantity)
        wins = all_windows(problem, rid)
        # A flow lot's last car must still leave the line within the horizon's working time.
        deadline = last_entry_end(wins, mode.drain_s) if mode.drain_s else problem.horizon * 2
        for wi, w in enumerate(wins):
            latest = min(w.end, deadline) - d
            if not fits(w, lot.release, d) or latest < max(w.start, lot.release):
                continue
            p = m.new_bool_var(f"p_{lot.id}_{rid}_{wi}")
            st = m.new_int_var(max(w.start, lot.release), latest, f"st_{lot.id}_{rid}_{wi}")
            iv = m.new_optional_interval_var(st, d, st + d, p, f"i_{lot.id}_{rid}_{wi}")
            lv.alternatives.append(Alternative(lot, rid, wi, p, st, st + d, iv, d))
            m.add(lv.start == st).only_enforce_if(p)
            m.add(lv.end == st + d).only_enforce_if(p)


def _open(m: cp_model.CpModel, problem: PlantProblem, lot: PlantLot, lv: LotVars) -> None:
    """A lot the solver places: its alternatives or unscheduled, lateness and deviation."""
    H = problem.horizon
    u = m.new_bool_var(f"u_{lot.id}")
    lv.unscheduled = u
    _alternatives(m, problem, lot, lv)
    m.add_exactly_one([u] + [a.presence for a in lv.alternatives])
    ref = problem.reference.get(lot.id)
    m.add(lv.start == (ref[1] if ref else 0)).only_enforce_if(u)
    m.add(lv.end == (ref[1] if ref else 0)).only_enforce_if(u)
    if lot.due is not None:
        tardy = m.new_int_var(0, 2 * H, f"t_{lot.id}")
        m.add(tardy >= lv.end - lot.due)
        m.add(tardy == 0).only_enforce_if(u)
        lv.tardy = tardy
    if ref is not None:
        dev = m.new_int_var(0, 2 * H, f"dev_{lot.id}")
        m.add_abs_equality(dev, lv.start - ref[1])
        lv.deviation = dev


def lot_variables(m: cp_model.CpModel, problem: PlantProblem) -> ModelVars:
    """The variables of every lot, with the constraints that define them."""
    H = problem.horizon
    mv = ModelVars()
    for lot in problem.lots:
        lv = LotVars(m.new_int_var(0, H, f"s_{lot.id}"), m.new_int_var(0, 2 * H, f"e_{lot.id}"))
        if lot.fixed is not None:
            _frozen(m, problem, lot, lv)
        else:
            _open(m, problem, lot, lv)
        mv.lots[lot.id] = lv
        mv.alternatives += lv.alternatives
    return mv
