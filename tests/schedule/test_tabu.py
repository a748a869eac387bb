"""The tabu search: valid schedules, never worse than its start, repeatable with an iteration bound, and
its use inside :func:`twin.schedule.jobshop.solve`."""

from __future__ import annotations

import pytest

from benchmarks.jobshop import SHARED_DIR
from twin.schedule.jobshop import (
    Operation,
    Option,
    Problem,
    best_greedy,
    read_instance,
    solve,
    tabu_search,
    violations,
)
from twin.schedule.jobshop.options import TABU_FRACTION_FJSP, TABU_ITERS_PER_S

from .test_jobshop import random_problem

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("name", ["ft10.txt", "la21.txt", "mk06.fjs", "mk10.fjs"])
def test_improves_the_greedy_schedule_and_stays_valid(name: str) -> None:
    p = read_instance(SHARED_DIR / name)
    g = best_greedy(p, max_passes=5)
    assert g is not None
    sol = tabu_search(p, g, seed=0, max_iters=400)
    assert violations(p, sol.ops, makespan=sol.makespan) == []
    # 400 iterations from a dispatch-rule start always find something better on these instances.
    assert sol.makespan < g.makespan
    assert sol.stats["tabu_iters"] == 400


@pytest.mark.parametrize("seed", range(8))
def test_random_instances_valid_and_never_worse(seed: int) -> None:
    p = random_problem(seed, jobs=6, machines=4, flexible=seed % 2 == 0)
    g = best_greedy(p, max_passes=5)
    assert g is not None
    sol = tabu_search(p, g, seed=seed, max_iters=300)
    assert violations(p, sol.ops, makespan=sol.makespan) == []
    assert sol.makespan <= g.makespan


def test_iteration_bound_makes_it_deterministic() -> None:
    p = read_instance(SHARED_DIR / "mk07.fjs")
    g = best_greedy(p, max_passes=5)
    assert g is not None
    a = tabu_search(p, g, seed=3, max_iters=300, time_limit_s=0.0)
    b = tabu_search(p, g, seed=3, max_iters=300, time_limit_s=0.0)
    assert a.ops == b.ops and a.makespan == b.makespan


def test_stops_at_the_lower_bound_and_handles_same_machine_job_steps() -> None:
    # One job's two steps on the same machine (job arc == machine arc: that swap must never be tried),
    # plus a second job: the optimum 7 equals the load of machine 0.
    p = Problem(
        (
            (Operation((Option(0, 2),)), Operation((Option(0, 3),))),
            (Operation((Option(1, 1),)), Operation((Option(0, 2), Option(1, 6)))),
        ),
        2,
    )
    g = best_greedy(p, max_passes=5)
    assert g is not None
    sol = tabu_search(p, g, seed=0, max_iters=200, lower_bound=7)
    assert violations(p, sol.ops, makespan=sol.makespan) == []
    assert sol.makespan == 7


def test_solve_uses_it_on_flexible_shops_and_repeats_in_deterministic_mode() -> None:
    p = read_instance(SHARED_DIR / "mk06.fjs")
    # No LNS: it is not what is tested here, and its rounds rebuild the model (slow on mk06).
    a = solve(p, time_limit_s=0.5, workers=2, seed=1, deterministic=True, lns=False)
    b = solve(p, time_limit_s=0.5, workers=2, seed=1, deterministic=True, lns=False)
    assert a.ops == b.ops and a.makespan == b.makespan
    assert violations(p, a.ops, makespan=a.makespan) == []
    assert a.stats["tabu_iters"] == int(TABU_ITERS_PER_S * TABU_FRACTION_FJSP * 0.5)
    assert a.stats["tabu_makespan"] < a.stats["greedy_makespan"]
    assert a.makespan <= a.stats["tabu_makespan"]


def test_solve_skips_it_with_frozen_operations() -> None:
    # The tabu's graph has no pinned start times: re-plans with a frozen window use CP-SAT (+ LNS) only.
    p = read_instance(SHARED_DIR / "mk06.fjs")
    first = best_greedy(p, max_passes=5)
    assert first is not None
    fixed = {(s.job, s.op): (s.machine, s.start) for s in first.ops if s.op == 0}
    sol = solve(p, time_limit_s=0.5, workers=2, seed=0, fixed=fixed, deterministic=True, lns=False)
    assert "tabu_iters" not in sol.stats
    assert violations(p, sol.ops, fixed=fixed, makespan=sol.makespan) == []
