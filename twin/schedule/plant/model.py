"""The plant CP-SAT model: problem in, schedule out (pure; no store, no clock).

Per lot, one optional fixed-size interval per (eligible resource, available window) that fits, plus an
"unscheduled" literal (exactly one of them). Per resource a no-overlap; changeovers as *campaigns*: all
lots of one model on one resource form one contiguous block, and two blocks on a resource are ordered by a
literal with the sequence-dependent changeover between them (a few literals per resource instead of a
circuit over all lots; at most ``models - 1`` changeovers per resource). An optional cumulative caps the
plant's processing power. The objective is weighted so each level dominates the next (see
:class:`twin.schedule.plant.problem.Weights`): unmet cars and tardiness, then energy (idle draw of every
powered (resource, shift window) + processing energy) and campaigns, then stability against a reference plan
(minutes moved, lots reassigned). :func:`evaluate` computes the same objective in Python, so a re-planner
can compare any schedule (e.g. the old plan) with the solver's.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from twin.schedule.plant.problem import Lot, Problem, Window

#: Objective scale: weights are per minute; times are seconds.
SCALE = 60


@dataclass(frozen=True)
class Scheduled:
    """One lot placed on a resource."""

    lot: str
    model: str
    quantity: int
    resource: str
    start: int
    end: int


@dataclass
class Score:
    """The objective of a schedule, by component (``total`` is what the solver minimises)."""

    total: int
    unmet_cars: int
    tardy_s: int
    energy_kwh: float
    active_windows: int
    campaigns: int
    moved_s: int
    reassigned: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class SolveResult:
    """What the solver returned."""

    schedule: list[Scheduled]
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID
    objective: int | None
    bound: int | None
    wall_s: float
    gap: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- coefficients
def _window_cost(problem: Problem, rid: str, w: Window) -> int:
    r = problem.resources[rid]
    kwh = r.idle_kw * w.length / 3600.0
    return round(kwh * problem.weights.kwh * SCALE) + problem.weights.active_window * SCALE


def _lot_cost(problem: Problem, lot: Lot, rid: str) -> int:
    return round(problem.modes[lot.model][rid].extra_kwh(lot.quantity) * problem.weights.kwh * SCALE)


def _campaign_cost(problem: Problem, model: str) -> int:
    others = [s for (a, b), s in problem.changeover.items() if b == model]
    mean = sum(others) / len(others) if others else 0.0
    return round(problem.weights.changeover_min * mean)


def _fits(w: Window, release: int, duration: int) -> bool:
    return max(w.start, release) + duration <= w.end


def _overlaps(w: Window, start: int, end: int) -> bool:
    return start < w.end and end > w.start


def all_windows(problem: Problem, rid: str) -> tuple[Window, ...]:
    """A resource's available windows."""
    return problem.resources[rid].windows


# ----------------------------------------------------------------------------------------------- evaluation
def evaluate(
    problem: Problem, schedule: Iterable[Scheduled], powered: Iterable[tuple[str, int, int]] = ()
) -> Score:
    """The objective of ``schedule`` for ``problem``, exactly as the CP-SAT model counts it.

    ``powered`` adds windows ``(resource, start, end)`` that stay powered even without work (an old
    plan's shift staffing, when it is kept as it is).
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
        total += _lot_cost(problem, lot, s.resource)
        kwh += problem.modes[lot.model][s.resource].extra_kwh(lot.quantity)
        campaigns.add((s.resource, lot.model))
        for i, win in enumerate(all_windows(problem, s.resource)):
            if _overlaps(win, s.start, s.end):
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
            if _overlaps(win, a, b):
                active.add((rid, i))
    for rid, i in active:
        win = all_windows(problem, rid)[i]
        total += _window_cost(problem, rid, win)
        kwh += problem.resources[rid].idle_kw * win.length / 3600.0
    for _rid, model in campaigns:
        total += _campaign_cost(problem, model)
    return Score(total, unmet, tardy, round(kwh, 3), len(active), len(campaigns), moved, reassigned)


def validate(problem: Problem, schedule: Sequence[Scheduled]) -> list[str]:
    """Every rule a schedule must keep; returns the violations (empty: valid).

    Eligibility and durations, windows (frozen lots excepted) and release dates, no overlap and
    changeovers per resource, campaigns, precedences, frozen lots unchanged, peak-power cap.
    """
    errors: list[str] = []
    lots = {lot.id: lot for lot in problem.lots}
    by_res: dict[str, list[Scheduled]] = defaultdict(list)
    seen: set[str] = set()
    for s in schedule:
        lot = lots.get(s.lot)
        if lot is None:
            errors.append(f"{s.lot}: not a lot of this problem")
            continue
        if s.lot in seen:
            errors.append(f"{s.lot}: scheduled twice")
        seen.add(s.lot)
        if s.model != lot.model or s.quantity != lot.quantity:
            errors.append(f"{s.lot}: model/quantity differ from the lot")
        if lot.fixed is not None:
            if (s.resource, s.start) != (lot.fixed.resource, lot.fixed.start):
                errors.append(f"{s.lot}: frozen lot moved to {s.resource}@{s.start}")
        else:
            if s.resource not in problem.eligible(lot):
                errors.append(f"{s.lot}: {s.resource} cannot build {lot.model}")
                continue
            if s.start < lot.release:
                errors.append(f"{s.lot}: starts at {s.start} before its release {lot.release}")
            wins = all_windows(problem, s.resource)
            if not any(w.start <= s.start and s.end <= w.end for w in wins):
                errors.append(f"{s.lot}: [{s.start}, {s.end}) is outside the windows of {s.resource}")
        mode = problem.modes.get(lot.model, {}).get(s.resource)
        if mode is not None and s.end - s.start != mode.duration(lot.quantity):
            errors.append(f"{s.lot}: duration {s.end - s.start} != {mode.duration(lot.quantity)}")
        by_res[s.resource].append(s)
    for lot in problem.lots:
        if lot.fixed is not None and lot.id not in seen:
            errors.append(f"{lot.id}: frozen lot missing")
    placed = {s.lot: s for s in schedule}
    for lot in problem.lots:
        for p in lot.predecessors:
            if lot.id in placed and (p not in placed or placed[p].end > placed[lot.id].start):
                errors.append(f"{lot.id}: starts before its predecessor {p} ends")
    for rid, items in by_res.items():
        items.sort(key=lambda s: (s.start, s.end))
        for a, b in itertools.pairwise(items):
            gap = problem.changeover_s(a.model, b.model)
            if a.end + gap > b.start:
                errors.append(f"{rid}: {a.lot} and {b.lot} overlap (changeover {gap} s)")
        models_seq = [s.model for s in items]
        for m in set(models_seq):
            idx = [i for i, x in enumerate(models_seq) if x == m]
            if idx[-1] - idx[0] + 1 != len(idx):
                errors.append(f"{rid}: lots of {m} are not one campaign")
    if problem.power_cap_kw is not None:
        events: list[tuple[int, float]] = []
        for s in schedule:
            if s.resource in problem.resources:
                kw = round(problem.resources[s.resource].run_kw)
                events += [(s.start, kw), (s.end, -kw)]
        load = 0.0
        for _t, d in sorted(events, key=lambda e: (e[0], e[1])):
            load += d
            if load > problem.power_cap_kw + 1e-6:
                errors.append(f"peak power {load:.0f} kW exceeds the cap {problem.power_cap_kw:.0f} kW")
                break
    return errors


# ----------------------------------------------------------------------------------------------- the model
@dataclass
class _Alt:
    lot: Lot
    rid: str
    win: int | None  # None: a frozen lot (not tied to one window)
    presence: cp_model.IntVar
    start: cp_model.IntVar
    end: cp_model.LinearExprT
    interval: cp_model.IntervalVar
    duration: int


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 5.0,
    workers: int = 2,
    seed: int = 0,
    hint: Sequence[Scheduled] | None = None,
    deterministic: bool = True,
    gap_limit: float = 0.001,
) -> SolveResult:
    """Solve ``problem`` with CP-SAT.

    ``hint`` (a full or partial schedule) warm-starts the search. With ``deterministic`` the search is
    interleaved and limited by deterministic time (about ``time_limit_s`` on this machine), so a fixed
    seed and worker count give the same schedule; a wall-clock limit of four times that is a safety net.
    The search also stops once the solution is proven within ``gap_limit`` (relative) of optimal.
    """
    t0 = time.perf_counter()
    m = cp_model.CpModel()
    H = problem.horizon
    alts: list[_Alt] = []
    by_lot: dict[str, list[_Alt]] = defaultdict(list)
    unsched: dict[str, cp_model.IntVar] = {}
    lot_start: dict[str, cp_model.IntVar] = {}
    lot_end: dict[str, cp_model.IntVar] = {}
    objective: list[tuple[cp_model.LinearExprT, int]] = []

    for lot in problem.lots:
        ls = m.new_int_var(0, H, f"s_{lot.id}")
        le = m.new_int_var(0, 2 * H, f"e_{lot.id}")
        lot_start[lot.id], lot_end[lot.id] = ls, le
        if lot.fixed is not None:
            rid = lot.fixed.resource
            d = problem.modes[lot.model][rid].duration(lot.quantity)
            one = m.new_constant(1)
            st = m.new_constant(lot.fixed.start)
            iv = m.new_interval_var(st, d, st + d, f"i_{lot.id}")
            a = _Alt(lot, rid, None, one, st, st + d, iv, d)
            alts.append(a)
            by_lot[lot.id].append(a)
            m.add(ls == lot.fixed.start)
            m.add(le == lot.fixed.start + d)
            objective.append((one, _lot_cost(problem, lot, rid)))  # a constant, so totals match evaluate()
            continue
        u = m.new_bool_var(f"u_{lot.id}")
        unsched[lot.id] = u
        objective.append((u, lot.quantity * problem.weights.unmet_car * SCALE))
        for rid in problem.eligible(lot):
            d = problem.modes[lot.model][rid].duration(lot.quantity)
            for wi, w in enumerate(all_windows(problem, rid)):
                if not _fits(w, lot.release, d):
                    continue
                p = m.new_bool_var(f"p_{lot.id}_{rid}_{wi}")
                st = m.new_int_var(max(w.start, lot.release), w.end - d, f"st_{lot.id}_{rid}_{wi}")
                iv = m.new_optional_interval_var(st, d, st + d, p, f"i_{lot.id}_{rid}_{wi}")
                a = _Alt(lot, rid, wi, p, st, st + d, iv, d)
                alts.append(a)
                by_lot[lot.id].append(a)
                m.add(ls == st).only_enforce_if(p)
                m.add(le == st + d).only_enforce_if(p)
                cost = _lot_cost(problem, lot, rid)
                if cost:
                    objective.append((p, cost))
        m.add_exactly_one([u] + [a.presence for a in by_lot[lot.id]])
        ref = problem.reference.get(lot.id)
        m.add(ls == (ref[1] if ref else 0)).only_enforce_if(u)
        m.add(le == (ref[1] if ref else 0)).only_enforce_if(u)
        if lot.due is not None:
            tardy = m.new_int_var(0, 2 * H, f"t_{lot.id}")
            m.add(tardy >= le - lot.due)
            m.add(tardy == 0).only_enforce_if(u)
            objective.append((tardy, problem.weights.tardy_min))
        if ref is not None:
            dev = m.new_int_var(0, 2 * H, f"dev_{lot.id}")
            m.add_abs_equality(dev, ls - ref[1])
            objective.append((dev, problem.weights.moved_min))
            same = [a.presence for a in by_lot[lot.id] if a.rid == ref[0]]
            # reassigned = 1 - u - sum(same): the lot is built, but not on its old resource.
            objective.append((1 - u - sum(same), problem.weights.reassigned * SCALE))

    # Precedences: a successor waits for its predecessors and is dropped if one of them is.
    for lot in problem.lots:
        for p_id in lot.predecessors:
            if p_id not in lot_end:
                continue
            if lot.id in unsched:
                cond = [unsched[lot.id].Not()]
                m.add(lot_start[lot.id] >= lot_end[p_id]).only_enforce_if(cond)
                if p_id in unsched:
                    m.add_implication(unsched[p_id], unsched[lot.id])
            else:
                m.add(lot_start[lot.id] >= lot_end[p_id])

    # Interchangeable lots of a model are built in index order (symmetry breaking).
    groups: dict[tuple[str, int, int, int | None, tuple[str, ...]], list[Lot]] = defaultdict(list)
    for lot in problem.lots:
        if lot.fixed is None:
            groups[(lot.model, lot.quantity, lot.release, lot.due, lot.predecessors)].append(lot)
    for group in groups.values():
        group.sort(key=lambda x: x.index)
        for a_lot, b_lot in itertools.pairwise(group):
            ua, ub = unsched[a_lot.id], unsched[b_lot.id]
            m.add_implication(ua, ub)
            m.add(lot_start[a_lot.id] <= lot_start[b_lot.id]).only_enforce_if(ub.Not())

    # Per resource: no overlap, campaigns with changeovers, powered windows.
    by_res: dict[str, list[_Alt]] = defaultdict(list)
    for a in alts:
        by_res[a.rid].append(a)
    for rid, items in by_res.items():
        m.add_no_overlap([a.interval for a in items])
        models = sorted({a.lot.model for a in items})
        camp: dict[str, tuple[cp_model.IntVar, cp_model.IntVar, cp_model.IntVar]] = {}
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
            camp[model] = (c, cs, ce)
            objective.append((c, _campaign_cost(problem, model)))
            init = problem.resources[rid].initial_model
            has_fixed = any(a.win is None for a in items)
            if init is not None and init != model and not has_fixed:
                m.add(cs >= problem.now + problem.changeover_s(init, model)).only_enforce_if(c)
        for i, ma in enumerate(models):
            for mb in models[i + 1 :]:
                ca, sa, ea = camp[ma]
                cb, sb, eb = camp[mb]
                before = m.new_bool_var(f"o_{rid}_{ma}_{mb}")
                m.add(ea + problem.changeover_s(ma, mb) <= sb).only_enforce_if([ca, cb, before])
                m.add(eb + problem.changeover_s(mb, ma) <= sa).only_enforce_if([ca, cb, before.Not()])
        wins = all_windows(problem, rid)
        for wi, w in enumerate(wins):
            inside = [a.presence for a in items if a.win == wi]
            fixed_here = any(
                a.win is None and _overlaps(w, a.lot.fixed.start, a.lot.fixed.start + a.duration)
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
            objective.append((on, _window_cost(problem, rid, w)))

    if problem.power_cap_kw is not None:
        m.add_cumulative(
            [a.interval for a in alts],
            [round(problem.resources[a.rid].run_kw) for a in alts],
            int(problem.power_cap_kw),
        )

    m.minimize(sum(coef * var for var, coef in objective))

    if hint:
        _add_hint(m, problem, hint, by_lot, unsched, lot_start, lot_end)

    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = max(1, workers)
    prm.random_seed = seed
    prm.relative_gap_limit = gap_limit
    # CP-SAT otherwise installs its own SIGINT handler and leaves SIG_DFL behind after each solve, so the
    # next Ctrl-C would kill a long-running service (`twin serve`, `twin replanner`) instead of stopping it.
    prm.catch_sigint_signal = False
    if deterministic:
        prm.interleave_search = True
        prm.max_deterministic_time = max(0.05, time_limit_s)
        prm.max_time_in_seconds = max(0.1, 4 * time_limit_s)
    else:
        prm.max_time_in_seconds = max(0.05, time_limit_s)
    code = solver.solve(m)
    status = solver.status_name(code)
    schedule: list[Scheduled] = []
    objective_value: int | None = None
    bound: int | None = None
    gap: float | None = None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for a in alts:
            if solver.boolean_value(a.presence) if a.win is not None else True:
                st_v = int(solver.value(a.start))
                schedule.append(
                    Scheduled(a.lot.id, a.lot.model, a.lot.quantity, a.rid, st_v, st_v + a.duration)
                )
        objective_value = round(solver.objective_value)
        bound = round(solver.best_objective_bound)
        gap = 0.0 if code == cp_model.OPTIMAL else abs(objective_value - bound) / max(1, abs(objective_value))
    schedule.sort(key=lambda s: (s.resource, s.start, s.lot))
    return SolveResult(
        schedule=schedule,
        status=status,
        objective=objective_value,
        bound=bound,
        wall_s=round(time.perf_counter() - t0, 4),
        gap=gap,
        stats={
            "alternatives": len(alts),
            "lots": len(problem.lots),
            "branches": solver.num_branches,
            "deterministic_time": round(solver.deterministic_time, 3),
            # The wall-clock net fired: a deterministic run is then not reproducible (a loaded machine).
            "wall_limited": solver.wall_time >= 0.98 * prm.max_time_in_seconds,
        },
    )


def _add_hint(
    m: cp_model.CpModel,
    problem: Problem,
    hint: Sequence[Scheduled],
    by_lot: Mapping[str, list[_Alt]],
    unsched: Mapping[str, cp_model.IntVar],
    lot_start: Mapping[str, cp_model.IntVar],
    lot_end: Mapping[str, cp_model.IntVar],
) -> None:
    """Hint every alternative of the hinted lots (a complete assignment of the main decisions)."""
    placed = {s.lot: s for s in hint}
    for lot in problem.lots:
        if lot.fixed is not None:
            continue
        s = placed.get(lot.id)
        chosen = None
        if s is not None:
            for a in by_lot[lot.id]:
                win = all_windows(problem, a.rid)[a.win] if a.win is not None else None
                if a.rid == s.resource and win is not None and win.start <= s.start and s.end <= win.end:
                    chosen = a
                    break
        m.add_hint(unsched[lot.id], chosen is None)
        for a in by_lot[lot.id]:
            m.add_hint(a.presence, a is chosen)
            if a is chosen and s is not None:
                m.add_hint(a.start, s.start)
        if chosen is not None and s is not None:
            m.add_hint(lot_start[lot.id], s.start)
            m.add_hint(lot_end[lot.id], s.end)
