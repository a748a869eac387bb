"""Standard-instance benchmark: our solver vs a plain CP-SAT model vs the greedy list schedule, same run.

:func:`run_instances` is what ``twin bench replan`` calls for its ``instances`` part. Every schedule is
checked by :mod:`twin.schedule.jobshop.validate`; gaps are to the optimum or best known makespans in
:data:`BEST_KNOWN`. :data:`SHARED_DIR` holds the 20 standard instance files (tests read them there too).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ortools.sat.python import cp_model

from twin.schedule.jobshop import (
    RULES,
    Problem,
    ScheduledOp,
    Solution,
    best_greedy,
    read_instance,
    solve,
    violations,
)

__all__ = ["BEST_KNOWN", "SHARED_DIR", "run_instances", "solve_plain", "summarize"]

#: Optimum or best known makespan (upper bound) per instance (JSPLIB, SchedulingLab, OptalCP results;
#: mk10 is open, lower bound 183).
BEST_KNOWN: dict[str, int] = {
    "ft06": 55, "ft10": 930, "ft20": 1165, "la01": 666, "la16": 945, "la21": 1046, "la24": 935,
    "abz5": 1234, "orb01": 1059, "ta01": 1231,
    "mk01": 40, "mk02": 26, "mk03": 204, "mk04": 60, "mk05": 172, "mk06": 57, "mk07": 139, "mk08": 523,
    "mk09": 307, "mk10": 195,
}  # fmt: skip

#: Our solver's per-phase results kept in each row (which phase found what).
_STATS_KEYS = ("greedy_makespan", "probe_makespan", "tabu_makespan", "full_makespan", "lns_rounds")

#: The 20 standard instances (OR-Library JSSP ``.txt``, Brandimarte FJSP ``.fjs``).
SHARED_DIR = Path(__file__).resolve().parent / "scheduling"


def solve_plain(problem: Problem, time_limit_s: float, workers: int, seed: int = 0) -> Solution:
    """The plain CP-SAT baseline ("v1"): one start per op, optional interval per eligible machine, ExactlyOne,
    NoOverlap per machine, precedences, makespan by AddMaxEquality; nothing else (no hint, no bounds)."""
    t0 = time.perf_counter()
    horizon = sum(max(x.duration for x in op.options) for job in problem.jobs for op in job)
    model = cp_model.CpModel()
    per_machine: dict[int, list[cp_model.IntervalVar]] = {}
    starts: dict[tuple[int, int], cp_model.IntVar] = {}
    lits: dict[tuple[int, int], list[tuple[int, int, cp_model.IntVar]]] = {}
    ends: dict[tuple[int, int], cp_model.IntVar] = {}
    for j, job in enumerate(problem.jobs):
        for o, op in enumerate(job):
            s = model.new_int_var(0, horizon, f"s{j}_{o}")
            e = model.new_int_var(0, horizon, f"e{j}_{o}")
            choices = []
            for x in op.options:
                lit = model.new_bool_var(f"p{j}_{o}_{x.machine}")
                itv = model.new_optional_interval_var(s, x.duration, e, lit, f"i{j}_{o}_{x.machine}")
                per_machine.setdefault(x.machine, []).append(itv)
                choices.append((x.machine, x.duration, lit))
            model.add_exactly_one(c[2] for c in choices)
            starts[(j, o)], ends[(j, o)], lits[(j, o)] = s, e, choices
            if o > 0:
                model.add(s >= ends[(j, o - 1)])
    for itvs in per_machine.values():
        model.add_no_overlap(itvs)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, [ends[(j, len(job) - 1)] for j, job in enumerate(problem.jobs) if job])
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    status = solver.solve(model)
    wall = time.perf_counter() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Solution(0, int(solver.best_objective_bound), solver.status_name(status), wall, ())
    ops = []
    for (j, o), choices in lits.items():
        m, d, _ = next(c for c in choices if solver.boolean_value(c[2]))
        s_val = solver.value(starts[(j, o)])
        ops.append(ScheduledOp(j, o, m, s_val, s_val + d))
    return Solution(
        int(solver.objective_value),
        int(solver.best_objective_bound),
        solver.status_name(status),
        wall,
        tuple(ops),
    )


def _entry(problem: Problem, sol: Solution | None, best: int | None) -> dict[str, Any]:
    if sol is None or not sol.ops:
        return {"makespan": None, "status": sol.status if sol else "NONE", "valid": False}
    bad = violations(problem, sol.ops, makespan=sol.makespan)
    return {
        "makespan": sol.makespan,
        "lower_bound": sol.lower_bound,
        "status": sol.status,
        "wall_s": round(sol.wall_s, 3),
        "gap_pct": round(100.0 * (sol.makespan - best) / best, 2) if best else None,
        "valid": not bad,
        **({"violations": bad[:3]} if bad else {}),
    }


def run_instances(
    files: Sequence[str | Path],
    time_limit: float = 10.0,
    workers: int = 2,
    quick: bool = False,
    seed: int = 0,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Solve each instance with our solver, the plain CP-SAT model and the greedy list schedule.

    ``quick`` caps the time limit at 2 s per solver. Each result has ``instance``, sizes, ``best_known``,
    ``ours``/``plain``/``greedy`` (makespan, lower_bound, status, wall_s, gap_pct, valid) and ``load1``
    (the 1-minute load average when it started: the machine may be shared).
    """
    limit = min(time_limit, 2.0) if quick else time_limit
    results = []
    for f in files:
        problem = read_instance(f)
        best = BEST_KNOWN.get(problem.name)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        ours = solve(problem, time_limit_s=limit, workers=workers, seed=seed)
        plain = solve_plain(problem, limit, workers, seed)
        greedy = best_greedy(problem, max_passes=len(RULES))
        row = {
            "instance": problem.name,
            "kind": "fjsp" if problem.machine_base == 1 else "jssp",
            "n_jobs": len(problem.jobs),
            "n_machines": problem.n_machines,
            "n_ops": problem.n_ops,
            "best_known": best,
            "time_limit": limit,
            "workers": workers,
            "load1": round(load, 2) if load is not None else None,
            "ours": {
                **_entry(problem, ours, best),
                "stats": {k: v for k, v in ours.stats.items() if k in _STATS_KEYS},
            },
            "plain": _entry(problem, plain, best),
            "greedy": _entry(problem, greedy, best),
        }
        results.append(row)
        if on_result is not None:
            on_result(row)
    return results


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean gap (%) per solver and problem kind, over the instances with a best known value."""
    out: dict[str, Any] = {}
    for kind in ("jssp", "fjsp"):
        rows = [r for r in results if r["kind"] == kind and r["best_known"]]
        if not rows:
            continue
        out[kind] = {
            solver: round(sum(r[solver]["gap_pct"] or 0.0 for r in rows) / len(rows), 2)
            if all(r[solver]["makespan"] is not None for r in rows)
            else None
            for solver in ("ours", "plain", "greedy")
        }
        out[kind]["instances"] = len(rows)
    return out
