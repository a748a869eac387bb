"""Large-neighbourhood search on top of CP-SAT: free part of the incumbent, re-solve it, keep what is better.

Each round frees a time window (biased towards the end, where the makespan is decided), a few machines or
a few jobs; everything else keeps its machine and its order on that machine (as precedences, so it can
still shift left). The sub-solve minimises the makespan, then the sum of job ends, so equal-makespan
moves that lower the flow are taken (they move the search across plateaus). The neighbourhood grows when
sub-solves finish and shrinks when they time out. The solver runs this only once its full search has
stalled on a flexible shop, or to improve on a plan with frozen operations.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from typing import Any

from ortools.sat.python import cp_model

from twin.schedule.jobshop.bounds import Assignment, OpId
from twin.schedule.jobshop.cpsat import LNS_PARAMS, configure
from twin.schedule.jobshop.incumbent import Incumbent
from twin.schedule.jobshop.instances import Problem, ScheduledOp
from twin.schedule.jobshop.model import add_hint, build_model, extract_solution
from twin.schedule.jobshop.options import SolveOptions

__all__ = ["run_lns"]

_KINDS = ("window", "machines", "jobs", "window")


def run_lns(
    problem: Problem,
    inc: Incumbent,
    lb: int,
    fixed: Assignment,
    opts: SolveOptions,
    elapsed: Callable[[], float],
    stats: dict[str, Any],
) -> tuple[Incumbent, int, int]:
    """LNS rounds until the time limit (or 8 rounds when deterministic) or ``lb``; (best, rounds, improved).

    Records ``lns_frac`` (and ``trace`` with ``opts.trace``) in ``stats``.
    """
    rng = random.Random(opts.seed)
    movable = problem.n_ops - len(fixed)
    frac = 0.25
    rounds = improved = 0
    max_rounds = 10**9
    lns_limit_s = opts.lns_limit_s
    if opts.deterministic:  # about time_limit_s deterministic seconds in all, in a fixed number of rounds
        max_rounds = 8
        lns_limit_s = min(lns_limit_s, max(0.02, opts.time_limit_s * (1 - opts.full_fraction) / max_rounds))
    while rounds < max_rounds and inc.makespan > lb:
        left = opts.time_limit_s - elapsed()
        if not opts.deterministic and left < 0.05:
            break
        kind = _KINDS[rounds % len(_KINDS)]
        free = _neighbourhood(inc, kind, max(4, int(frac * movable)), rng, fixed)
        limit = lns_limit_s if opts.deterministic else min(lns_limit_s, left)
        t1 = elapsed()
        st, ops = _lns_step(problem, inc, free, fixed, limit, opts, rng.randrange(1 << 30))
        rounds += 1
        if opts.trace:
            stats.setdefault("trace", []).append(
                (kind, len(free), st, round(elapsed() - t1, 2), inc.makespan, inc.flow)
            )
        if ops is not None:
            cand = Incumbent.of(problem, ops)
            if cand.beats(inc):
                if cand.makespan < inc.makespan:
                    improved += 1
                inc = cand
        # Adapt: finished sub-solves can afford larger neighbourhoods, timed-out ones smaller.
        frac = min(0.7, frac * 1.15) if st == "OPTIMAL" else max(0.05, frac * 0.9)
    stats["lns_frac"] = round(frac, 3)
    return inc, rounds, improved


def _neighbourhood(inc: Incumbent, kind: str, size: int, rng: random.Random, fixed: Assignment) -> set[OpId]:
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
        return set(order[first : first + size])
    if kind == "machines":
        machines = list({inc.ops[k].machine for k in movable})
        rng.shuffle(machines)
        for m in machines:
            chosen |= {k for k in movable if inc.ops[k].machine == m}
            if len(chosen) >= size:
                break
        return chosen
    jobs = list({k[0] for k in movable})
    rng.shuffle(jobs)
    for j in jobs:
        chosen |= {k for k in movable if k[0] == j}
        if len(chosen) >= size:
            break
    return chosen


def _lns_step(
    problem: Problem,
    inc: Incumbent,
    free: set[OpId],
    fixed: Assignment,
    limit: float,
    opts: SolveOptions,
    seed: int,
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
    if opts.flow_tiebreak:
        model.minimize(weight * jm.makespan + sum(jm.job_ends))
    else:
        model.minimize(jm.makespan)
    add_hint(jm, inc.assignment())
    solver = cp_model.CpSolver()
    params: Mapping[str, Any] = {**LNS_PARAMS, **(opts.lns_params or {})}
    configure(solver, limit, opts.lns_workers or opts.workers, seed, opts.deterministic, params)
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return solver.status_name(status), extract_solution(problem, jm, solver)
    return solver.status_name(status), None
