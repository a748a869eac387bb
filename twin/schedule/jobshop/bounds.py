"""Bounds on a job-shop schedule: heads and tails of every operation, a makespan lower bound, a horizon.

Heads (earliest starts) and tails (least work left in the job) bound every start variable of the CP-SAT
model; the lower bound lets every phase of the solver stop early once a schedule reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping

from twin.schedule.jobshop.instances import Problem

__all__ = ["Assignment", "OpId", "heads_tails", "lower_bound", "trivial_horizon"]

OpId = tuple[int, int]
#: ``(job, op) -> (machine, start)``: frozen operations, hints and previous plans.
Assignment = Mapping[OpId, tuple[int, int]]


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
    for ids in per_machine.values():
        load = sum(problem.jobs[j][o].options[0].duration for j, o in ids)
        head = min(heads[i] for i in ids)
        tail = min(tails[i] - problem.jobs[i[0]][i[1]].min_duration for i in ids)
        lb = max(lb, head + load + tail)
    used = len({opt.machine for job in problem.jobs for op in job for opt in op.options}) or 1
    return max(lb, -(-total // used))


def trivial_horizon(problem: Problem, fixed: Assignment) -> int:
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
