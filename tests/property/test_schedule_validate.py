"""Property tests of the independent schedule checker (``twin.schedule.jobshop.validate``).

Random (flexible) job shops get a schedule built here by a tiny list scheduler that is valid by
construction; the checker must accept it, and must reject every single-point corruption of it.
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.schedule.jobshop import Operation, Option, Problem, ScheduledOp, violations

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """A random flexible job shop: 1-5 jobs of 1-5 operations on 1-4 machines, durations 1-20."""
    n_machines = draw(st.integers(1, 4))
    jobs = []
    for _ in range(draw(st.integers(1, 5))):
        ops = []
        for _ in range(draw(st.integers(1, 5))):
            machines = draw(st.sets(st.integers(0, n_machines - 1), min_size=1))
            opts = tuple(Option(m, draw(st.integers(1, 20))) for m in sorted(machines))
            ops.append(Operation(opts, release=draw(st.sampled_from([0, 0, 0, 5, 30]))))
        jobs.append(tuple(ops))
    return Problem(jobs=tuple(jobs), n_machines=n_machines, name="random")


def build(problem: Problem, choice: int) -> list[ScheduledOp]:
    """A valid schedule: jobs in round-robin order, each op on an eligible machine as early as allowed."""
    free = [0] * problem.n_machines
    job_end = [0] * len(problem.jobs)
    out: list[ScheduledOp] = []
    pending = [0] * len(problem.jobs)
    while any(p < len(j) for p, j in zip(pending, problem.jobs, strict=True)):
        for j, job in enumerate(problem.jobs):
            o = pending[j]
            if o >= len(job):
                continue
            op = job[o]
            opt = op.options[(choice + j + o) % len(op.options)]
            start = max(free[opt.machine], job_end[j], op.release)
            out.append(ScheduledOp(j, o, opt.machine, start, start + opt.duration))
            free[opt.machine] = job_end[j] = start + opt.duration
            pending[j] += 1
    return out


@SETTINGS
@given(problems(), st.integers(0, 3))
def test_valid_schedules_are_accepted(problem: Problem, choice: int) -> None:
    ops = build(problem, choice)
    assert violations(problem, ops, makespan=max(s.end for s in ops)) == []


@SETTINGS
@given(problems(), st.integers(0, 3), st.data())
def test_every_corruption_is_detected(problem: Problem, choice: int, data: st.DataObject) -> None:
    ops = build(problem, choice)
    i = data.draw(st.integers(0, len(ops) - 1), label="victim")
    s = ops[i]
    op = problem.jobs[s.job][s.op]
    kind = data.draw(st.sampled_from(["drop", "twice", "longer", "ghost", "early", "wrong_machine"]))
    bad = list(ops)
    if kind == "drop":
        del bad[i]
    elif kind == "twice":
        bad.append(s)
    elif kind == "longer":
        bad[i] = dataclasses.replace(s, end=s.end + data.draw(st.integers(1, 5)))
    elif kind == "ghost":
        bad.append(ScheduledOp(len(problem.jobs), 0, 0, 0, 1))
    elif kind == "early":
        # before time 0 / its release: always invalid, whatever else holds
        shift = s.start - min(0, op.release) + data.draw(st.integers(1, 10))
        bad[i] = dataclasses.replace(s, start=s.start - shift, end=s.end - shift)
    else:
        eligible = {o.machine for o in op.options}
        others = [m for m in range(problem.n_machines + 1) if m not in eligible]
        bad[i] = dataclasses.replace(s, machine=data.draw(st.sampled_from(others)))
    assert violations(problem, bad), f"{kind} of {s} not detected"


@SETTINGS
@given(problems(), st.integers(0, 3), st.integers(1, 50))
def test_wrong_makespan_claim_is_detected(problem: Problem, choice: int, off: int) -> None:
    ops = build(problem, choice)
    real = max(s.end for s in ops)
    assert any("makespan" in v for v in violations(problem, ops, makespan=real + off))


@SETTINGS
@given(problems(), st.integers(0, 3), st.data())
def test_overlap_on_a_machine_is_detected(problem: Problem, choice: int, data: st.DataObject) -> None:
    """Move one op onto the start of another op on the same machine: overlap (or precedence) reported."""
    ops = build(problem, choice)
    by_machine: dict[int, list[int]] = {}
    for idx, s in enumerate(ops):
        by_machine.setdefault(s.machine, []).append(idx)
    pairs = [(a, b) for lst in by_machine.values() for a in lst for b in lst if a != b]
    if not pairs:
        return  # every machine runs one op: nothing can overlap
    a, b = data.draw(st.sampled_from(pairs))
    sa, sb = ops[a], ops[b]
    bad = list(ops)
    bad[a] = dataclasses.replace(sa, start=sb.start, end=sb.start + (sa.end - sa.start))
    assert violations(problem, bad)
