"""The CP-SAT model of a (flexible) job-shop: variables, constraints, and reading a solution back.

Per operation: a start and an end, one interval per eligible machine (optional, with a choice literal, when
there are several), the start bounded by its head and tail. Constraints: exactly one machine per
operation, job precedences, no overlap per machine, the plant power cap (cumulative) when set, and a
``makespan`` at least every job's end and at least :func:`~twin.schedule.jobshop.bounds.lower_bound`.
No objective is set: the solver minimises the makespan, the LNS a lexicographic makespan + flow, and
other objectives (stability, energy) can reuse the same variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from twin.schedule.jobshop.bounds import Assignment, OpId, heads_tails, lower_bound
from twin.schedule.jobshop.instances import Option, Problem, ScheduledOp

__all__ = ["JobShopModel", "OpVars", "add_hint", "build_model", "extract_solution"]

Choice = tuple[Option, cp_model.IntVar | None, cp_model.IntervalVar]


@dataclass
class OpVars:
    """The CP-SAT variables of one operation: start/end, and one (literal, interval) per eligible option."""

    start: cp_model.IntVar
    end: cp_model.IntVar
    choices: list[Choice]


@dataclass
class JobShopModel:
    """A built CP-SAT model: ``ops[(job, op)]`` variables, ``makespan`` and the ``horizon`` used."""

    model: cp_model.CpModel
    ops: dict[OpId, OpVars]
    makespan: cp_model.IntVar
    horizon: int
    job_ends: list[cp_model.IntVar] = field(default_factory=list)


@dataclass
class _Resources:
    """The intervals the resource constraints are posted over, collected while the ops are built."""

    per_machine: dict[int, list[cp_model.IntervalVar]] = field(default_factory=dict)
    power: list[tuple[cp_model.IntervalVar, int]] = field(default_factory=list)
    masters: list[cp_model.IntervalVar] = field(default_factory=list)


def build_model(
    problem: Problem,
    horizon: int,
    fixed: Assignment | None = None,
    restrict: Mapping[OpId, int] | None = None,
    redundant_cumulative: bool = False,
) -> JobShopModel:
    """The CP-SAT job-shop model (no objective set; ``makespan`` >= every job's end).

    ``fixed`` pins ops to (machine, start); ``restrict`` limits ops to one machine (start free) — used by
    the LNS to keep the incumbent's assignment outside the neighbourhood. ``redundant_cumulative`` adds
    a cumulative over per-operation "master" intervals (at most one operation per machine at once).
    """
    fixed = fixed or {}
    restrict = restrict or {}
    model = cp_model.CpModel()
    heads, tails = heads_tails(problem, fixed)
    ops: dict[OpId, OpVars] = {}
    res = _Resources()
    job_ends: list[cp_model.IntVar] = []
    for j, job in enumerate(problem.jobs):
        for o, op in enumerate(job):
            key = (j, o)
            if key in fixed:
                m, s = fixed[key]
                options = [x for x in op.options if x.machine == m]
                lo = hi = s
            else:
                options = list(op.options)
                if key in restrict:
                    options = [x for x in options if x.machine == restrict[key]] or options
                lo = heads[key]
                hi = max(lo, horizon - tails[key])
            masters = res.masters if redundant_cumulative else None
            v = ops[key] = _op_vars(model, key, options, lo, hi, masters)
            for x, _, itv in v.choices:
                res.per_machine.setdefault(x.machine, []).append(itv)
                if problem.power_cap is not None and x.power > 0:
                    res.power.append((itv, x.power))
            if o > 0:
                model.add(v.start >= ops[(j, o - 1)].end)
        if job:
            job_ends.append(ops[(j, len(job) - 1)].end)
    _add_resources(model, ops, res, problem.power_cap)
    makespan = model.new_int_var(min(lower_bound(problem, fixed), horizon), horizon, "makespan")
    for e in job_ends:
        model.add(makespan >= e)
    return JobShopModel(model, ops, makespan, horizon, job_ends)


def _op_vars(
    model: cp_model.CpModel,
    key: OpId,
    options: list[Option],
    lo: int,
    hi: int,
    masters: list[cp_model.IntervalVar] | None,
) -> OpVars:
    """Start in [lo, hi], end, and one interval per option (exactly one present when there are several)."""
    j, o = key
    dmin = min(x.duration for x in options)
    dmax = max(x.duration for x in options)
    start = model.new_int_var(lo, hi, f"s{j}_{o}")
    end = model.new_int_var(lo + dmin, hi + dmax, f"e{j}_{o}")
    choices: list[Choice] = []
    if len(options) == 1:
        x = options[0]
        choices.append((x, None, model.new_interval_var(start, x.duration, end, f"i{j}_{o}")))
        return OpVars(start, end, choices)
    for x in options:
        lit = model.new_bool_var(f"p{j}_{o}_{x.machine}")
        itv = model.new_optional_interval_var(start, x.duration, end, lit, f"i{j}_{o}_{x.machine}")
        choices.append((x, lit, itv))
    model.add_exactly_one([lit for _, lit, _ in choices if lit is not None])
    if masters is not None:
        durs = sorted({x.duration for x in options})
        dur = model.new_int_var_from_domain(cp_model.Domain.from_values(durs), f"d{j}_{o}")
        model.add(dur == sum(x.duration * lit for x, lit, _ in choices if lit is not None))
        masters.append(model.new_interval_var(start, dur, end, f"m{j}_{o}"))
    return OpVars(start, end, choices)


def _add_resources(
    model: cp_model.CpModel, ops: Mapping[OpId, OpVars], res: _Resources, power_cap: int | None
) -> None:
    """No overlap per machine, the redundant cumulative (if masters were built), the power cap."""
    for itvs in res.per_machine.values():
        if len(itvs) > 1:
            model.add_no_overlap(itvs)
    if res.masters:
        # Redundant: at most |machines| operations run at once (helps the LP/energetic reasoning).
        capacity = len(res.per_machine)
        single = [v.choices[0][2] for v in ops.values() if len(v.choices) == 1]
        model.add_cumulative(res.masters + single, [1] * (len(res.masters) + len(single)), capacity)
    if res.power and power_cap is not None:
        model.add_cumulative([i for i, _ in res.power], [p for _, p in res.power], power_cap)


def add_hint(jm: JobShopModel, assignment: Assignment) -> None:
    """Hint every variable of the ops in ``assignment`` ((machine, start) per op)."""
    for key, (m, s) in assignment.items():
        v = jm.ops.get(key)
        if v is None:
            continue
        jm.model.add_hint(v.start, s)
        for x, lit, _ in v.choices:
            if lit is not None:
                jm.model.add_hint(lit, 1 if x.machine == m else 0)


def extract_solution(
    problem: Problem, jm: JobShopModel, solver: cp_model.CpSolver
) -> tuple[ScheduledOp, ...]:
    """The schedule of the solver's current solution."""
    out = []
    for (j, o), v in jm.ops.items():
        s = solver.value(v.start)
        chosen = v.choices[0][0]
        for x, lit, _ in v.choices:
            if lit is None or solver.boolean_value(lit):
                chosen = x
                break
        out.append(ScheduledOp(j, o, chosen.machine, s, s + chosen.duration))
    return tuple(out)
