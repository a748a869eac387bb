"""The job-shop solver's entry point: :func:`solve` minimises the makespan of a (flexible) job-shop.

It runs the pipeline of :mod:`twin.schedule.jobshop.portfolio` (greedy, CP-SAT probe, tabu, full CP-SAT,
LNS) and returns the best schedule, checked by the independent validator, with the lower bound it proved.

Re-planning support: ``fixed`` pins operations to (machine, start) (frozen window / work in progress) and
``hint`` warm-starts from a previous plan. Determinism: with ``deterministic=True`` every limit is in
CP-SAT deterministic time or counts (greedy passes, tabu iterations, LNS rounds) and multi-worker search
is interleaved, so equal seed + workers give equal schedules.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from twin.schedule.jobshop.bounds import Assignment
from twin.schedule.jobshop.instances import Problem, Solution
from twin.schedule.jobshop.options import SolveOptions
from twin.schedule.jobshop.portfolio import Portfolio

__all__ = ["solve"]


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
    ``params`` / ``lns_params``: extra CP-SAT parameters for the full solve / the LNS sub-solves. The
    other settings are described on :class:`~twin.schedule.jobshop.options.SolveOptions`.
    """
    t0 = time.perf_counter()
    opts = SolveOptions(
        time_limit_s=time_limit_s,
        workers=workers,
        seed=seed,
        deterministic=deterministic,
        full_fraction=full_fraction,
        full_max_fraction=full_max_fraction,
        stall_fraction=stall_fraction,
        lns=lns,
        lns_limit_s=lns_limit_s,
        lns_workers=lns_workers,
        flow_tiebreak=flow_tiebreak,
        trace=trace,
        params=params,
        lns_params=lns_params,
        tabu_fraction=tabu_fraction,
        probe_fraction=probe_fraction,
    )
    hint_map = dict(hint.assignment() if isinstance(hint, Solution) else (hint or {}))
    return Portfolio(problem, opts, hint_map, dict(fixed or {}), t0).run()
