"""Independent validity checker for job-shop schedules (shares no code with the solvers).

Checks: every operation scheduled exactly once, on an eligible machine, for its duration there, not before
its release or time 0; job precedence; no overlap per machine; fixed (frozen) operations where they were
fixed; the plant power cap, if the problem has one; and, optionally, a claimed makespan.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from twin.schedule.jobshop.instances import Problem, ScheduledOp, ScheduleInvalidError, Solution

__all__ = ["check", "violations"]


def violations(
    problem: Problem,
    ops: Iterable[ScheduledOp],
    fixed: Mapping[tuple[int, int], tuple[int, int]] | None = None,
    makespan: int | None = None,
    limit: int = 20,
) -> list[str]:
    """All problems found (at most ``limit``), each a short sentence; empty when the schedule is valid."""
    out: list[str] = []
    seen: dict[tuple[int, int], ScheduledOp] = {}
    for s in ops:
        key = (s.job, s.op)
        if not (0 <= s.job < len(problem.jobs) and 0 <= s.op < len(problem.jobs[s.job])):
            out.append(f"job {s.job} op {s.op} does not exist")
            continue
        if key in seen:
            out.append(f"job {s.job} op {s.op} scheduled twice")
            continue
        seen[key] = s
        operation = problem.jobs[s.job][s.op]
        opt = next((o for o in operation.options if o.machine == s.machine), None)
        if opt is None:
            out.append(f"job {s.job} op {s.op} on machine {s.machine}, which is not eligible")
        elif s.end - s.start != opt.duration:
            out.append(
                f"job {s.job} op {s.op} lasts {s.end - s.start} on machine {s.machine}, "
                f"expected {opt.duration}"
            )
        if s.start < max(0, operation.release):
            out.append(f"job {s.job} op {s.op} starts at {s.start}, before its release {operation.release}")
    for j, job in enumerate(problem.jobs):
        for o in range(len(job)):
            if (j, o) not in seen:
                out.append(f"job {j} op {o} is not scheduled")
            elif o > 0 and (j, o - 1) in seen and seen[(j, o)].start < seen[(j, o - 1)].end:
                out.append(
                    f"job {j} op {o} starts at {seen[(j, o)].start} "
                    f"before op {o - 1} ends at {seen[(j, o - 1)].end}"
                )
    by_machine: dict[int, list[ScheduledOp]] = {}
    for s in seen.values():
        if s.end > s.start:  # zero-length operations occupy nothing
            by_machine.setdefault(s.machine, []).append(s)
    for m, lst in sorted(by_machine.items()):
        lst.sort(key=lambda s: (s.start, s.end))
        for a, b in itertools.pairwise(lst):
            if b.start < a.end:
                out.append(
                    f"machine {m}: job {a.job} op {a.op} [{a.start},{a.end}) overlaps "
                    f"job {b.job} op {b.op} [{b.start},{b.end})"
                )
    for (j, o), (m, start) in (fixed or {}).items():
        got = seen.get((j, o))
        if got is not None and (got.machine, got.start) != (m, start):
            out.append(
                f"job {j} op {o} was fixed at machine {m} start {start}, "
                f"got machine {got.machine} start {got.start}"
            )
    if problem.power_cap is not None:
        events: list[tuple[int, int]] = []
        for s in seen.values():
            opt = problem.option_on(s.job, s.op, s.machine)
            if opt is not None and opt.power and s.end > s.start:
                events += [(s.start, opt.power), (s.end, -opt.power)]
        level = 0
        for t, delta in sorted(events, key=lambda e: (e[0], e[1])):  # releases before draws at the same t
            level += delta
            if level > problem.power_cap:
                out.append(f"power {level} exceeds the cap {problem.power_cap} at t={t}")
                break
    if makespan is not None and seen:
        real = max(s.end for s in seen.values())
        if real != makespan:
            out.append(f"claimed makespan {makespan} but the last operation ends at {real}")
    return out[:limit]


def check(
    problem: Problem,
    solution: Solution,
    fixed: Mapping[tuple[int, int], tuple[int, int]] | None = None,
) -> None:
    """Raise :class:`ScheduleInvalidError` listing the violations if ``solution``'s schedule is invalid."""
    if not solution.ops:
        return
    found = violations(problem, solution.ops, fixed=fixed, makespan=solution.makespan)
    if found:
        more = "" if len(found) < 5 else f" (and {len(found) - 4} more)"
        name = problem.name or "problem"
        raise ScheduleInvalidError(f"invalid schedule for {name}: " + "; ".join(found[:4]) + more)
