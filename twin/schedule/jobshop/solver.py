"""CP-SAT model and solver strategy for (flexible) job-shops: :func:`solve` is the pure entry point.

Strategy (each step measured on the standard sets, see ``docs/scheduling-results.md``):

1. greedy list schedules (several dispatch rules, randomized restarts) give a first solution;
2. on flexible shops, a short CP-SAT probe (``probe_fraction``, 10 % of the time): small instances are
   proven optimal here and stop;
3. tabu search (:mod:`twin.schedule.jobshop.tabu`: N5 critical-block swaps, and machine reassignment
   on flexible shops) from the best schedule so far, for ``tabu_fraction`` of the time: 50 % on flexible
   shops, where
   it found better schedules in 2-5 s than CP-SAT in 60 s (CP-SAT never improved its result within 10 s,
   but did at 60 s); 20 % on plain job-shops, where it gives CP-SAT a start within 1-3 % of the optimum.
   Not with frozen operations (``fixed``) or a power cap, which the tabu's graph does not model;
4. a full CP-SAT solve of the whole model, hinted with the incumbent, whose makespan is the horizon
   (optional interval per eligible machine, no-overlap per machine, precedences, head/tail bounds on every
   start, a makespan lower bound from job chains and machine loads), with the strong disjunctive
   propagation on (JSSP mean gap 0.2 % vs 0.7 % at 10 s, 3 seeds). A redundant cumulative over
   per-operation "master" intervals is available (``redundant_cumulative=True``) but measured worse or
   equal on mk02/04/05/06/10 at 10 s, so it is off;
5. once the full search stalls (no better solution for ``stall_fraction`` of the time, after at least
   ``full_fraction`` of it), large-neighbourhood search on top of CP-SAT for the rest: keep the
   incumbent's machine and machine order for most operations (as precedences, so they can still shift
   left) and re-solve the others (a window of time, a few machines or a few jobs) in short sub-solves with
   light presolve; neighbourhood size adapts to whether sub-solves finish; equal-makespan moves are
   accepted when they lower the sum of job completion times (moves the search across plateaus). Measured
   here, running this LNS from 30 % of the time on was *worse* than the full search on JSSP (la24, ta01)
   and no better on FJSP at 10 s, so it is only the fallback for a stalled search on flexible shops
   (``lns=None``: on for FJSP, off for JSSP); with frozen operations it is what improves on CP-SAT.

Re-planning support: ``fixed`` pins operations to (machine, start) (frozen window / work in progress) and
``hint`` warm-starts from a previous plan. :func:`build_model` and :func:`extract_solution` are public so
other objectives (stability, energy) can reuse the same variables.

Determinism: with ``deterministic=True`` every limit is in CP-SAT deterministic time or counts (greedy
passes, tabu iterations, LNS rounds) and multi-worker search is interleaved, so equal seed + workers give
equal schedules.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from twin.schedule.jobshop.greedy import best_greedy
from twin.schedule.jobshop.instances import Option, Problem, ScheduledOp, Solution
from twin.schedule.jobshop.tabu import tabu_search
from twin.schedule.jobshop.validate import check, violations

OpId = tuple[int, int]
Assignment = Mapping[OpId, tuple[int, int]]


@dataclass
class OpVars:
    """The CP-SAT variables of one operation: start/end, and one (literal, interval) per eligible option."""

    start: cp_model.IntVar
    end: cp_model.IntVar
    choices: list[tuple[Option, cp_model.IntVar | None, cp_model.IntervalVar]]


@dataclass
class JobShopModel:
    """A built CP-SAT model: ``ops[(job, op)]`` variables, ``makespan`` and the ``horizon`` used."""

    model: cp_model.CpModel
    ops: dict[OpId, OpVars]
    makespan: cp_model.IntVar
    horizon: int
    job_ends: list[cp_model.IntVar] = field(default_factory=list)


def heads_tails(problem: Problem, fixed: Assignment | None = None) -> tuple[dict[OpId, int], dict[OpId, int]]:
    """Earliest start of each op (releases, min durations, fixed starts) and min work from it to job end."""
    fixed = fixed or {}
    heads: dict[OpId, int] = {}
    tails: dict[OpId, int] = {}
    for j, job in enumerate(problem.jobs):
        t = 0
        for o, op in enumerate(job):
            if (j, o) in fixed:
                m, s = fixed[(j, o)]
                opt = problem.option_on(j, o, m)
                heads[(j, o)] = s
                t = s + (opt.duration if opt else op.min_duration)
            else:
                t = max(t, op.release)
                heads[(j, o)] = t
                t += op.min_duration
        rest = 0
        for o in range(len(job) - 1, -1, -1):
            rest += job[o].min_duration
            tails[(j, o)] = rest
    return heads, tails


def lower_bound(problem: Problem, fixed: Assignment | None = None) -> int:
    """A cheap makespan lower bound: longest job chain, one-machine bounds, and average machine load."""
    heads, tails = heads_tails(problem, fixed)
    lb = max(
        (heads[(j, len(job) - 1)] + job[-1].min_duration for j, job in enumerate(problem.jobs) if job),
        default=0,
    )
    per_machine: dict[int, list[OpId]] = {}
    total = 0
    for j, job in enumerate(problem.jobs):
        for o, op in enumerate(job):
            total += op.min_duration
            if len(op.options) == 1:
                per_machine.setdefault(op.options[0].machine, []).append((j, o))
    for m, ids in per_machine.items():
        load = sum(problem.jobs[j][o].options[0].duration for j, o in ids)
        head = min(heads[i] for i in ids)
        tail = min(tails[i] - problem.jobs[i[0]][i[1]].min_duration for i in ids)
        lb = max(lb, head + load + tail)
        del m
    used = len({opt.machine for job in problem.jobs for op in job for opt in op.options}) or 1
    return max(lb, -(-total // used))


def build_model(
    problem: Problem,
    horizon: int,
    fixed: Assignment | None = None,
    restrict: Mapping[OpId, int] | None = None,
    redundant_cumulative: bool = False,
) -> JobShopModel:
    """The CP-SAT job-shop model (no objective set; ``makespan`` >= every job's end).

    ``fixed`` pins ops to (machine, start); ``restrict`` limits ops to one machine (start free) — used by
    the LNS to keep the incumbent's assignment outside the neighbourhood.
    """
    fixed = fixed or {}
    restrict = restrict or {}
    model = cp_model.CpModel()
    heads, tails = heads_tails(problem, fixed)
    ops: dict[OpId, OpVars] = {}
    per_machine: dict[int, list[cp_model.IntervalVar]] = {}
    power: list[tuple[cp_model.IntervalVar, int]] = []
    masters: list[cp_model.IntervalVar] = []
    job_ends: list[cp_model.IntVar] = []
    for j, job in enumerate(problem.jobs):
        for o, op in enumerate(job):
            key = (j, o)
            options = list(op.options)
            if key in fixed:
                m, s = fixed[key]
                options = [x for x in options if x.machine == m]
                lo = hi = s
            else:
                if key in restrict:
                    options = [x for x in options if x.machine == restrict[key]] or options
                lo = heads[key]
                hi = max(lo, horizon - tails[key])
            dmin = min(x.duration for x in options)
            dmax = max(x.duration for x in options)
            start = model.new_int_var(lo, hi, f"s{j}_{o}")
            end = model.new_int_var(lo + dmin, hi + dmax, f"e{j}_{o}")
            choices: list[tuple[Option, cp_model.IntVar | None, cp_model.IntervalVar]] = []
            if len(options) == 1:
                x = options[0]
                itv = model.new_interval_var(start, x.duration, end, f"i{j}_{o}")
                choices.append((x, None, itv))
            else:
                lits = []
                for x in options:
                    lit = model.new_bool_var(f"p{j}_{o}_{x.machine}")
                    itv = model.new_optional_interval_var(
                        start, x.duration, end, lit, f"i{j}_{o}_{x.machine}"
                    )
                    choices.append((x, lit, itv))
                    lits.append(lit)
                model.add_exactly_one(lits)
                if redundant_cumulative:
                    durs = sorted({x.duration for x in options})
                    dur = model.new_int_var_from_domain(cp_model.Domain.from_values(durs), f"d{j}_{o}")
                    model.add(dur == sum(x.duration * lit for x, lit, _ in choices if lit is not None))
                    masters.append(model.new_interval_var(start, dur, end, f"m{j}_{o}"))
            for x, _, itv in choices:
                per_machine.setdefault(x.machine, []).append(itv)
                if problem.power_cap is not None and x.power > 0:
                    power.append((itv, x.power))
            ops[key] = OpVars(start, end, choices)
            if o > 0:
                model.add(start >= ops[(j, o - 1)].end)
        if job:
            job_ends.append(ops[(j, len(job) - 1)].end)
    for itvs in per_machine.values():
        if len(itvs) > 1:
            model.add_no_overlap(itvs)
    if masters:
        # Redundant: at most |machines| operations run at once (helps the LP/energetic reasoning).
        capacity = len(per_machine)
        single = [v.choices[0][2] for v in ops.values() if len(v.choices) == 1]
        model.add_cumulative(masters + single, [1] * (len(masters) + len(single)), capacity)
    if power and problem.power_cap is not None:
        model.add_cumulative([i for i, _ in power], [p for _, p in power], problem.power_cap)
    lb = lower_bound(problem, fixed)
    makespan = model.new_int_var(min(lb, horizon), horizon, "makespan")
    for e in job_ends:
        model.add(makespan >= e)
    return JobShopModel(model, ops, makespan, horizon, job_ends)


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


def _params(solver: cp_model.CpSolver, limit: float, workers: int, seed: int, deterministic: bool) -> None:
    p = solver.parameters
    p.num_workers = max(1, workers)
    p.random_seed = seed
    if deterministic:
        p.max_deterministic_time = max(0.01, limit)
        if workers > 1:
            p.interleave_search = True
    else:
        p.max_time_in_seconds = max(0.01, limit)


class _Progress(cp_model.CpSolverSolutionCallback):
    """Remembers when the last improving solution came."""

    def __init__(self) -> None:
        super().__init__()
        self.last = time.perf_counter()
        self.solutions = 0

    def on_solution_callback(self) -> None:
        self.last = time.perf_counter()
        self.solutions += 1


def _solve_until_stall(
    solver: cp_model.CpSolver, model: cp_model.CpModel, not_before: float, stall_s: float
) -> Any:
    """Solve, but stop once past ``not_before`` (perf_counter) no solution improved for ``stall_s``.

    Never before the first solution: until then the search is usually still in presolve, and stopping it
    would throw that work away.
    """
    progress = _Progress()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            now = time.perf_counter()
            if progress.solutions and now >= not_before and now - progress.last >= stall_s:
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return solver.solve(model, progress)
    finally:
        done.set()
        watcher.join()


#: Share of the time limit the tabu search gets before CP-SAT (flexible / plain job-shops). On flexible
#: shops 50 % and 80 % tied at 10 s and 50 % was better at 60 s (CP-SAT then improves mk05/mk07); on plain
#: job-shops a short tabu start plus CP-SAT's own search was best.
TABU_FRACTION_FJSP = 0.5
TABU_FRACTION_JSSP = 0.2
#: Share of the time for a CP-SAT probe before the (long) flexible-shop tabu: small instances are proven
#: optimal there (mk01, mk04 in well under a second) instead of after the tabu's share.
PROBE_FRACTION = 0.1
#: Tabu iterations per second of time limit in deterministic mode (about what one core does on mk10).
TABU_ITERS_PER_S = 1500

#: Full-solve parameters: the strong disjunctive propagation measured better on JSSP at 10 s (mean gap
#: 0.2 % vs 0.7 %, 3 seeds) and equal on FJSP.
FULL_PARAMS: dict[str, Any] = {"use_strong_propagation_in_disjunctive": True}

#: Sub-solve parameters: presolve dominates the wall time of a sub-solve; one light pass is enough.
LNS_PARAMS: dict[str, Any] = {"max_presolve_iterations": 1, "cp_model_probing_level": 0, "symmetry_level": 0}


def _extra(solver: cp_model.CpSolver, params: Mapping[str, Any] | None) -> None:
    for k, val in (params or {}).items():
        if isinstance(val, list):
            getattr(solver.parameters, k).extend(val)
        else:
            setattr(solver.parameters, k, val)


@dataclass
class _Incumbent:
    ops: dict[OpId, ScheduledOp]
    makespan: int
    flow: int

    @classmethod
    def of(cls, problem: Problem, ops: tuple[ScheduledOp, ...]) -> _Incumbent:
        d = {(s.job, s.op): s for s in ops}
        flow = sum(d[(j, len(job) - 1)].end for j, job in enumerate(problem.jobs) if job)
        return cls(d, max((s.end for s in ops), default=0), flow)


def _neighbourhood(
    problem: Problem, inc: _Incumbent, kind: str, size: int, rng: random.Random, fixed: Assignment
) -> set[OpId]:
    """Operations to free: a time window, whole machines, or whole jobs (fixed ops never)."""
    movable = [k for k in inc.ops if k not in fixed]
    size = max(1, min(size, len(movable)))
    chosen: set[OpId] = set()
    if kind == "window":
        order = sorted(movable, key=lambda k: (inc.ops[k].start, k))
        # Bias windows towards the end, where the makespan is decided, 30 % of the time.
        first = rng.randrange(0, len(order) - size + 1)
        if rng.random() < 0.3:
            first = len(order) - size
        chosen = set(order[first : first + size])
    elif kind == "machines":
        machines = list({inc.ops[k].machine for k in movable})
        rng.shuffle(machines)
        for m in machines:
            chosen |= {k for k in movable if inc.ops[k].machine == m}
            if len(chosen) >= size:
                break
    else:  # jobs
        jobs = list({k[0] for k in movable})
        rng.shuffle(jobs)
        for j in jobs:
            chosen |= {k for k in movable if k[0] == j}
            if len(chosen) >= size:
                break
    return chosen


def _lns_step(
    problem: Problem,
    inc: _Incumbent,
    free: set[OpId],
    fixed: Assignment,
    limit: float,
    workers: int,
    seed: int,
    deterministic: bool,
    flow_tiebreak: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, tuple[ScheduledOp, ...] | None]:
    """Re-solve the free ops with everything else keeping its machine and machine order."""
    restrict = {k: s.machine for k, s in inc.ops.items() if k not in free and k not in fixed}
    jm = build_model(problem, inc.makespan, fixed, restrict)
    model = jm.model
    per_machine: dict[int, list[ScheduledOp]] = {}
    for k, s in inc.ops.items():
        if k not in free:
            per_machine.setdefault(s.machine, []).append(s)
    for lst in per_machine.values():
        lst.sort(key=lambda s: (s.start, s.end))
        for a, b in itertools.pairwise(lst):
            model.add(jm.ops[(b.job, b.op)].start >= jm.ops[(a.job, a.op)].end)
    # Lexicographic: makespan first, then the sum of job ends (never worse than the incumbent).
    weight = len(jm.job_ends) * (inc.makespan + 1) + 1
    if flow_tiebreak:
        model.minimize(weight * jm.makespan + sum(jm.job_ends))
    else:
        model.minimize(jm.makespan)
    add_hint(jm, {k: (s.machine, s.start) for k, s in inc.ops.items()})
    solver = cp_model.CpSolver()
    _params(solver, limit, workers, seed, deterministic)
    _extra(solver, {**LNS_PARAMS, **(extra or {})})
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return solver.status_name(status), extract_solution(problem, jm, solver)
    return solver.status_name(status), None


def solve(
    problem: Problem,
    time_limit_s: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    hint: Solution | Assignment | None = None,
    fixed: Assignment | None = None,
    deterministic: bool = False,
    full_fraction: float = 0.5,
    full_max_fraction: float = 1.0,
    stall_fraction: float = 0.25,
    lns: bool | None = None,
    lns_limit_s: float = 1.0,
    lns_workers: int | None = None,
    flow_tiebreak: bool = True,
    trace: bool = False,
    params: Mapping[str, Any] | None = None,
    lns_params: Mapping[str, Any] | None = None,
    tabu_fraction: float | None = None,
    probe_fraction: float | None = None,
) -> Solution:
    """Minimise the makespan of ``problem``; the best schedule found, validated, with its proven bound.

    ``fixed``: ops pinned to (machine, start). ``hint``: a previous plan ((machine, start) per op or a
    Solution) to warm-start from; if complete and valid it is also the fallback result.
    ``deterministic``: limits in deterministic time and LNS rounds, so results repeat for seed + workers.
    ``tabu_fraction`` / ``probe_fraction``: shares of the time for the tabu search and the CP-SAT probe
    before it (None: the measured defaults, see the module docstring; 0 turns either off).
    """
    t0 = time.perf_counter()
    fixed = dict(fixed or {})
    stats: dict[str, Any] = {"workers": workers, "seed": seed, "deterministic": deterministic}
    hint_map = dict(hint.assignment() if isinstance(hint, Solution) else (hint or {}))

    def elapsed() -> float:
        return time.perf_counter() - t0

    if lns is None:  # measured: LNS hurt on plain job-shops (see the module docstring)
        lns = problem.flexible
    lb = lower_bound(problem, fixed)
    candidates: list[_Incumbent] = []
    # Phase 1: greedy list schedules (and the hint, if complete and valid).
    g = best_greedy(
        problem,
        time_limit_s=min(0.5, 0.05 * time_limit_s),
        seed=seed,
        fixed=fixed,
        max_passes=40 if deterministic else None,
    )
    if g is not None:
        candidates.append(_Incumbent.of(problem, g.ops))
        stats["greedy_makespan"] = g.makespan
    if hint_map and len(hint_map) == problem.n_ops:
        hinted = [x for x in _scheduled(problem, hint_map) if x is not None]
        if len(hinted) == problem.n_ops and not violations(problem, hinted, fixed=fixed):
            candidates.append(_Incumbent.of(problem, tuple(hinted)))
            stats["hint_makespan"] = candidates[-1].makespan
    inc = min(candidates, key=lambda c: (c.makespan, c.flow)) if candidates else None
    if tabu_fraction is None:  # measured (docs/scheduling-results.md): tabu does most of the FJSP work
        tabu_fraction = TABU_FRACTION_FJSP if problem.flexible else TABU_FRACTION_JSSP
    use_tabu = tabu_fraction > 0 and problem.power_cap is None and not fixed
    if probe_fraction is None:
        probe_fraction = PROBE_FRACTION if use_tabu and problem.flexible else 0.0

    def full_solve(budget: float, stall_from: float | None) -> str:
        """CP-SAT on the whole model, hinted with the incumbent; updates ``inc`` and ``lb``.

        ``stall_from``: stop once no solution improved for ``stall_fraction`` of the time, from then on.
        """
        nonlocal inc, lb
        horizon = inc.makespan if inc else _trivial_horizon(problem, fixed)
        jm = build_model(problem, horizon, fixed)
        jm.model.minimize(jm.makespan)
        add_hint(jm, {k: (s.machine, s.start) for k, s in inc.ops.items()} if inc else hint_map)
        solver = cp_model.CpSolver()
        _params(solver, budget, workers, seed, deterministic)
        _extra(solver, {**FULL_PARAMS, **(params or {})})
        if stall_from is None:
            status = solver.solve(jm.model)
        else:
            status = _solve_until_stall(solver, jm.model, stall_from, stall_fraction * time_limit_s)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            cand = _Incumbent.of(problem, extract_solution(problem, jm, solver))
            if inc is None or (cand.makespan, cand.flow) < (inc.makespan, inc.flow):
                inc = cand
        if status != cp_model.INFEASIBLE:
            lb = max(lb, int(solver.best_objective_bound))
        return str(solver.status_name(status))

    # Phase 1b: a short CP-SAT probe before a long tabu search: easy instances end here, proven optimal.
    if probe_fraction > 0 and (inc is None or inc.makespan > lb):
        probe_st = full_solve(probe_fraction * time_limit_s, None)
        stats["probe_makespan"] = inc.makespan if inc else None
        if probe_st == "INFEASIBLE":
            return Solution(0, 0, "INFEASIBLE", elapsed(), (), stats)

    # Phase 1c: tabu search from the best schedule so far (not with frozen operations or a power cap).
    if use_tabu and inc is not None and inc.makespan > lb:
        start = Solution(inc.makespan, 0, "FEASIBLE", 0.0, tuple(inc.ops.values()))
        tb = tabu_search(
            problem,
            start,
            time_limit_s=tabu_fraction * time_limit_s,
            seed=seed,
            max_iters=int(TABU_ITERS_PER_S * tabu_fraction * time_limit_s) if deterministic else None,
            lower_bound=lb,
        )
        stats.update(tb.stats, tabu_makespan=tb.makespan, tabu_s=round(tb.wall_s, 2))
        cand = _Incumbent.of(problem, tb.ops)
        if (cand.makespan, cand.flow) < (inc.makespan, inc.flow):
            inc = cand

    # Phase 2: the full model.
    if inc is None or inc.makespan > lb:
        if deterministic:
            budget = time_limit_s * (full_fraction if lns else 1.0)
        else:
            budget = time_limit_s * (full_max_fraction if lns else 1.0) - elapsed()
        # Leave the full search for the LNS once it stalls (but not before a minimum share of the time).
        stall_from = None if deterministic or not lns else t0 + full_fraction * time_limit_s
        full_st = full_solve(budget, stall_from)
        stats["full_status"] = full_st
        stats["full_s"] = round(elapsed(), 2)
        if full_st == "INFEASIBLE":
            return Solution(0, 0, "INFEASIBLE", elapsed(), (), stats)
        stats["full_makespan"] = inc.makespan if inc else None

    # Phase 3: LNS.
    rounds = improved = 0
    if lns and inc is not None and inc.makespan > lb:
        rng = random.Random(seed)
        movable = problem.n_ops - len(fixed)
        frac = 0.25
        kinds = ("window", "machines", "jobs", "window")
        max_rounds = 10**9
        if deterministic:  # about time_limit_s deterministic seconds in all, in a fixed number of rounds
            max_rounds = 8
            lns_limit_s = min(lns_limit_s, max(0.02, time_limit_s * (1 - full_fraction) / max_rounds))
        while rounds < max_rounds and inc.makespan > lb:
            left = time_limit_s - elapsed()
            if not deterministic and left < 0.05:
                break
            kind = kinds[rounds % len(kinds)]
            free = _neighbourhood(problem, inc, kind, max(4, int(frac * movable)), rng, fixed)
            limit = lns_limit_s if deterministic else min(lns_limit_s, left)
            t1 = elapsed()
            st, ops = _lns_step(
                problem,
                inc,
                free,
                fixed,
                limit,
                lns_workers or workers,
                rng.randrange(1 << 30),
                deterministic,
                flow_tiebreak,
                lns_params,
            )
            rounds += 1
            if trace:
                stats.setdefault("trace", []).append(
                    (kind, len(free), st, round(elapsed() - t1, 2), inc.makespan, inc.flow)
                )
            if ops is not None:
                cand = _Incumbent.of(problem, ops)
                if (cand.makespan, cand.flow) < (inc.makespan, inc.flow):
                    if cand.makespan < inc.makespan:
                        improved += 1
                    inc = cand
            # Adapt: finished sub-solves can afford larger neighbourhoods, timed-out ones smaller.
            frac = min(0.7, frac * 1.15) if st == "OPTIMAL" else max(0.05, frac * 0.9)
        stats["lns_frac"] = round(frac, 3)
    stats.update({"lns_rounds": rounds, "lns_improved": improved})

    if inc is None:
        return Solution(0, lb, "UNKNOWN", elapsed(), (), stats)
    ops_t = tuple(sorted(inc.ops.values(), key=lambda s: (s.job, s.op)))
    status_s = "OPTIMAL" if inc.makespan <= lb else "FEASIBLE"
    sol = Solution(inc.makespan, min(lb, inc.makespan), status_s, elapsed(), ops_t, stats)
    check(problem, sol, fixed)
    return sol


def _scheduled(problem: Problem, assignment: Assignment) -> list[ScheduledOp | None]:
    out: list[ScheduledOp | None] = []
    for (j, o), (m, s) in assignment.items():
        if not (0 <= j < len(problem.jobs) and 0 <= o < len(problem.jobs[j])):
            out.append(None)
            continue
        opt = problem.option_on(j, o, m)
        out.append(ScheduledOp(j, o, m, s, s + opt.duration) if opt else None)
    return out


def _trivial_horizon(problem: Problem, fixed: Assignment) -> int:
    """Everything in sequence after the last fixed op: always enough without a power cap."""
    base = max(
        (
            s + (problem.option_on(j, o, m) or problem.jobs[j][o].options[0]).duration
            for (j, o), (m, s) in fixed.items()
        ),
        default=0,
    )
    rel = max((op.release for job in problem.jobs for op in job), default=0)
    return base + rel + sum(max(x.duration for x in op.options) for job in problem.jobs for op in job)
