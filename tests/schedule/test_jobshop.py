"""The job-shop solver, the greedy list schedule and the independent validator."""

from __future__ import annotations

import random

import pytest

from benchmarks.jobshop import SHARED_DIR
from twin.schedule.jobshop import (
    RULES,
    Operation,
    Option,
    Problem,
    ScheduledOp,
    ScheduleInvalidError,
    Solution,
    best_greedy,
    build_model,
    check,
    list_schedule,
    lower_bound,
    read_instance,
    solve,
    violations,
)

SHARED = SHARED_DIR

pytestmark = pytest.mark.timeout(120)


def random_problem(
    seed: int, jobs: int = 5, machines: int = 4, flexible: bool = True, power_cap: int | None = None
) -> Problem:
    """A random (F)JSSP: each job 2..machines ops, each op 1..3 eligible machines (1 if not flexible)."""
    rng = random.Random(seed)
    out = []
    for _ in range(jobs):
        ops = []
        for _ in range(rng.randint(2, machines)):
            k = rng.randint(1, min(3, machines)) if flexible else 1
            ms = rng.sample(range(machines), k)
            ops.append(Operation(tuple(Option(m, rng.randint(1, 9), rng.randint(1, 5)) for m in ms)))
        out.append(tuple(ops))
    return Problem(tuple(out), machines, name=f"rand{seed}", power_cap=power_cap)


def test_ft06_solves_to_the_optimum() -> None:
    p = read_instance(SHARED / "ft06.txt")
    sol = solve(p, time_limit_s=20, workers=2, seed=0, deterministic=True)
    assert (sol.makespan, sol.lower_bound, sol.status) == (55, 55, "OPTIMAL")
    assert not violations(p, sol.ops, makespan=55)


@pytest.mark.parametrize("seed", range(6))
def test_random_instances_give_valid_schedules(seed: int) -> None:
    p = random_problem(seed, flexible=seed % 2 == 0)
    sol = solve(p, time_limit_s=0.5, workers=2, seed=seed, deterministic=True)
    assert sol.status in ("OPTIMAL", "FEASIBLE")
    assert len(sol.ops) == p.n_ops
    assert violations(p, sol.ops, makespan=sol.makespan) == []
    assert lower_bound(p) <= sol.lower_bound <= sol.makespan
    g = best_greedy(p, max_passes=10)
    assert g is not None and violations(p, g.ops, makespan=g.makespan) == []
    assert sol.makespan <= g.makespan  # the greedy is the hint: never worse


def test_fixed_operations_are_respected() -> None:
    p = random_problem(11, jobs=6, machines=4)
    first = solve(p, time_limit_s=0.5, workers=2, seed=1, deterministic=True)
    # Freeze what started before t_now, and pin job 0's first op somewhere odd (later than needed).
    t_now = first.makespan // 3
    fixed = {(s.job, s.op): (s.machine, s.start) for s in first.ops if s.start < t_now}
    op0 = p.jobs[0][0].options[-1]
    if (0, 0) not in fixed:
        fixed[(0, 0)] = (op0.machine, first.makespan + 5)  # after everything else: still feasible
    sol = solve(p, time_limit_s=0.5, workers=2, seed=2, deterministic=True, fixed=fixed, hint=first)
    assert violations(p, sol.ops, fixed=fixed, makespan=sol.makespan) == []
    placed = sol.assignment()
    assert all(placed[k] == v for k, v in fixed.items())


def test_power_cap_is_respected() -> None:
    p = random_problem(5, jobs=6, machines=4, flexible=True)
    free = solve(p, time_limit_s=0.5, workers=2, seed=0, deterministic=True)
    capped = Problem(p.jobs, p.n_machines, name="capped", power_cap=6)
    sol = solve(capped, time_limit_s=0.5, workers=2, seed=0, deterministic=True)
    assert violations(capped, sol.ops, makespan=sol.makespan) == []
    assert sol.makespan >= free.makespan
    g = best_greedy(capped, max_passes=6)
    assert g is not None and violations(capped, g.ops) == []


def test_deterministic_mode_repeats_exactly() -> None:
    p = read_instance(SHARED / "mk01.fjs")
    a = solve(p, time_limit_s=0.5, workers=2, seed=7, deterministic=True)
    b = solve(p, time_limit_s=0.5, workers=2, seed=7, deterministic=True)
    assert a.ops == b.ops and a.makespan == b.makespan
    assert violations(p, a.ops, makespan=a.makespan) == []


def test_greedy_is_deterministic_per_rule_and_seed() -> None:
    p = read_instance(SHARED / "mk02.fjs")
    for rule in RULES:
        s1 = list_schedule(p, rule, random.Random(3), 0.2)
        s2 = list_schedule(p, rule, random.Random(3), 0.2)
        assert s1 is not None and s2 is not None and s1.ops == s2.ops
        assert violations(p, s1.ops, makespan=s1.makespan) == []


def test_build_model_is_reusable_with_another_objective() -> None:
    from ortools.sat.python import cp_model

    p = random_problem(3)
    g = best_greedy(p, max_passes=5)
    assert g is not None
    jm = build_model(p, horizon=g.makespan)
    jm.model.minimize(sum(jm.job_ends))  # e.g. total completion time instead of makespan
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 2
    assert solver.solve(jm.model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


# --- the validator catches each kind of violation on hand-made schedules -------------------------------

TINY = Problem(
    jobs=(
        (Operation((Option(0, 3, 2),)), Operation((Option(1, 2, 2), Option(0, 4, 2)))),
        (Operation((Option(1, 4, 3),), release=1),),
    ),
    n_machines=2,
    name="tiny",
    power_cap=5,
)
GOOD = [ScheduledOp(0, 0, 0, 0, 3), ScheduledOp(0, 1, 0, 3, 7), ScheduledOp(1, 0, 1, 1, 5)]


def test_validator_accepts_the_good_schedule() -> None:
    assert violations(TINY, GOOD, makespan=7) == []
    check(TINY, Solution(7, 7, "OPTIMAL", 0.0, tuple(GOOD)))


@pytest.mark.parametrize(
    ("ops", "needle"),
    [
        ([GOOD[0], ScheduledOp(0, 1, 0, 2, 6), GOOD[2]], "before op 0 ends"),  # precedence
        ([GOOD[0], ScheduledOp(0, 1, 1, 3, 5), ScheduledOp(1, 0, 1, 2, 6)], "overlaps"),  # no overlap
        ([GOOD[0], ScheduledOp(0, 1, 2, 3, 5), GOOD[2]], "not eligible"),  # eligibility
        ([GOOD[0], ScheduledOp(0, 1, 0, 3, 5), GOOD[2]], "lasts 2"),  # duration
        ([GOOD[0], GOOD[1]], "not scheduled"),  # missing op
        ([*GOOD, GOOD[0]], "scheduled twice"),
        ([GOOD[0], GOOD[1], ScheduledOp(1, 0, 1, 0, 4)], "before its release"),
        ([ScheduledOp(0, 0, 0, -1, 2), ScheduledOp(0, 1, 0, 3, 7), GOOD[2]], "before its release 0"),
        ([*GOOD, ScheduledOp(3, 0, 0, 0, 1)], "does not exist"),
    ],
)
def test_validator_catches_each_violation(ops: list[ScheduledOp], needle: str) -> None:
    found = violations(TINY, ops)
    assert any(needle in v for v in found), found
    with pytest.raises(ScheduleInvalidError):
        check(TINY, Solution(max(s.end for s in ops), 0, "FEASIBLE", 0.0, tuple(ops)))


def test_validator_checks_the_power_cap() -> None:
    from dataclasses import replace

    # GOOD draws 2 (job 0 op 0) + 3 (job 1 op 0) over [1, 3): fine under 5, not under 4.
    assert any("power 5 exceeds the cap 4 at t=1" in v for v in violations(replace(TINY, power_cap=4), GOOD))


def test_validator_checks_fixed_ops_and_claimed_makespan() -> None:
    assert any("was fixed" in v for v in violations(TINY, GOOD, fixed={(1, 0): (1, 2)}))
    assert any("claimed makespan 6" in v for v in violations(TINY, GOOD, makespan=6))
