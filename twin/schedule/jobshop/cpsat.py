"""Running CP-SAT for the job-shop phases: limits and parameters, and a solve that stops once it stalls.

Limits are wall-clock seconds, or CP-SAT deterministic time with ``deterministic`` (then multi-worker
search is interleaved, so equal seed + workers give equal results).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from ortools.sat.python import cp_model

__all__ = ["FULL_PARAMS", "LNS_PARAMS", "configure", "solve_until_stall"]

#: Full-solve parameters: the strong disjunctive propagation (measured better on plain job-shops, equal on
#: flexible ones; docs/scheduling-results.md).
FULL_PARAMS: dict[str, Any] = {"use_strong_propagation_in_disjunctive": True}

#: Sub-solve parameters: presolve dominates the wall time of a sub-solve; one light pass is enough.
LNS_PARAMS: dict[str, Any] = {"max_presolve_iterations": 1, "cp_model_probing_level": 0, "symmetry_level": 0}


def configure(
    solver: cp_model.CpSolver,
    limit: float,
    workers: int,
    seed: int,
    deterministic: bool,
    params: Mapping[str, Any] | None = None,
) -> None:
    """Set the limit, workers and seed, then ``params`` (repeated fields extended, others set)."""
    p = solver.parameters
    p.num_workers = max(1, workers)
    p.random_seed = seed
    if deterministic:
        p.max_deterministic_time = max(0.01, limit)
        if workers > 1:
            p.interleave_search = True
    else:
        p.max_time_in_seconds = max(0.01, limit)
    for k, val in (params or {}).items():
        if isinstance(val, list):
            getattr(p, k).extend(val)
        else:
            setattr(p, k, val)


class _Progress(cp_model.CpSolverSolutionCallback):
    """Remembers when the last improving solution came."""

    def __init__(self) -> None:
        super().__init__()
        self.last = time.perf_counter()
        self.solutions = 0

    def on_solution_callback(self) -> None:
        self.last = time.perf_counter()
        self.solutions += 1


def solve_until_stall(
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
