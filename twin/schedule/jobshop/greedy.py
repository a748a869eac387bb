"""Greedy list scheduling (Giffler-Thompson style) with dispatch rules and randomized restarts.

Each step looks at the next operation of every unfinished job, gives it its earliest-completing eligible
machine (inserting into idle gaps, respecting fixed operations and the power cap), takes the operation
that completes first, and among the operations that could start before that completion on the same
machine (the conflict set) picks one by a dispatch rule. Used as the solver's first schedule (the tabu
search's start, CP-SAT's hint and horizon), and as a baseline in the benchmark.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable, Mapping

from twin.schedule.jobshop.instances import Problem, ScheduledOp, Solution

__all__ = ["RULES", "best_greedy", "list_schedule"]

#: Dispatch rules: most work remaining, earliest completion, shortest processing time, most operations
#: remaining, random.
RULES = ("mwkr", "ect", "spt", "mopnr", "random")

Fixed = Mapping[tuple[int, int], tuple[int, int]]


class _Timeline:
    """Busy intervals of one machine, sorted by start."""

    __slots__ = ("ends", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def earliest(self, est: int, dur: int) -> int:
        """Earliest start >= est of a gap of length ``dur``."""
        starts, ends = self.starts, self.ends
        i = bisect.bisect_right(ends, est)  # first busy interval ending after est
        t = est
        while i < len(starts):
            if t + dur <= starts[i] and (dur > 0 or t < starts[i] or t >= ends[i]):
                return t
            t = max(t, ends[i])
            i += 1
        return t

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


class _Power:
    """Placed power draws, for the optional plant power cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.items: list[tuple[int, int, int]] = []

    def fits(self, start: int, end: int, power: int) -> bool:
        if power <= 0 or end <= start:
            return True
        points = [start] + [s for s, _, _ in self.items if start < s < end]
        return all(power + sum(p for s, e, p in self.items if s <= t < e) <= self.cap for t in points)

    def next_times(self, after: int) -> list[int]:
        return sorted({e for _, e, _ in self.items if e > after})

    def add(self, start: int, end: int, power: int) -> None:
        if power > 0 and end > start:
            self.items.append((start, end, power))


def _remaining(problem: Problem) -> list[list[int]]:
    """Per job, per op: the min-duration work from this op to the end of the job."""
    out = []
    for job in problem.jobs:
        rem = [0] * (len(job) + 1)
        for o in range(len(job) - 1, -1, -1):
            rem[o] = rem[o + 1] + job[o].min_duration
        out.append(rem)
    return out


def list_schedule(
    problem: Problem,
    rule: str = "mwkr",
    rng: random.Random | None = None,
    noise: float = 0.0,
    fixed: Fixed | None = None,
) -> Solution | None:
    """One greedy pass; None if the fixed operations / power cap leave it no feasible place."""
    t0 = time.perf_counter()
    fixed = fixed or {}
    rng = rng or random.Random(0)
    lines = [_Timeline() for _ in range(problem.n_machines)]
    power = _Power(problem.power_cap) if problem.power_cap is not None else None
    if not _reserve_fixed(problem, fixed, lines, power):
        return None
    placed = _Pass(problem, fixed, lines, power, rng, noise).run(rule)
    if placed is None:
        return None
    makespan = max((s.end for s in placed), default=0)
    return Solution(makespan, 0, "FEASIBLE", time.perf_counter() - t0, tuple(placed), {"rule": rule})


def _reserve_fixed(problem: Problem, fixed: Fixed, lines: list[_Timeline], power: _Power | None) -> bool:
    """Block the fixed operations' time on their machines (and power); False if one is not eligible."""
    for (j, o), (m, s) in fixed.items():
        opt = problem.option_on(j, o, m)
        if opt is None:
            return False
        lines[m].add(s, s + opt.duration)
        if power is not None:
            power.add(s, s + opt.duration, opt.power)
    return True


def _deadlines(problem: Problem, fixed: Fixed) -> dict[tuple[int, int], int]:
    """Deadline of each op implied by the next fixed op of its job (frozen ops are usually a prefix)."""
    deadline: dict[tuple[int, int], int] = {}
    for j, job in enumerate(problem.jobs):
        limit: int | None = None
        for o in range(len(job) - 1, -1, -1):
            if (j, o) in fixed:
                limit = fixed[(j, o)][1]
            elif limit is not None:
                deadline[(j, o)] = limit
                limit -= job[o].min_duration
    return deadline


Place = tuple[int, int, int]  # (start, end, machine)


class _Pass:
    """The state of one greedy pass: next op and ready time per job, and each job's cached next place."""

    def __init__(
        self,
        problem: Problem,
        fixed: Fixed,
        lines: list[_Timeline],
        power: _Power | None,
        rng: random.Random,
        noise: float,
    ) -> None:
        self.problem = problem
        self.fixed = fixed
        self.lines = lines
        self.power = power
        self.rng = rng
        self.noise = noise
        self.deadline = _deadlines(problem, fixed)
        self.nxt = [0] * len(problem.jobs)
        self.ready = [0] * len(problem.jobs)
        self.cache: dict[int, Place | None] = {}

    def run(self, rule: str) -> list[ScheduledOp] | None:
        """Place every operation, one conflict set at a time; None when one has no feasible place."""
        problem, fixed, nxt = self.problem, self.fixed, self.nxt
        rem = _remaining(problem)
        placed: list[ScheduledOp] = []
        total = problem.n_ops
        while len(placed) < total:
            cands = self.candidates()
            if cands is None:
                return None
            c_star = min(c[1] for _, c in cands)
            m_star = next(c[2] for _, c in cands if c[1] == c_star)
            conflict = [(j, c) for j, c in cands if c[2] == m_star and c[0] < c_star] or [
                (j, c) for j, c in cands if c[1] == c_star
            ]
            j, (s, e, m) = _pick(conflict, rule, rem, nxt, self.rng, self.noise)
            placed.append(ScheduledOp(j, nxt[j], m, s, e))
            if (j, nxt[j]) not in fixed:
                self.lines[m].add(s, e)
                if self.power is not None:
                    opt = problem.option_on(j, nxt[j], m)
                    assert opt is not None
                    self.power.add(s, e, opt.power)
            self.ready[j] = e
            nxt[j] += 1
            self.invalidate(j, m)
        return placed

    def candidates(self) -> list[tuple[int, Place]] | None:
        """The next op's place of every unfinished job; None when one of them has no feasible place."""
        cands: list[tuple[int, Place]] = []
        cache, nxt, jobs = self.cache, self.nxt, self.problem.jobs
        for j in range(len(jobs)):
            if nxt[j] >= len(jobs[j]):
                continue
            if j not in cache:
                cache[j] = self.place_of(j)
            c = cache[j]
            if c is None:
                return None
            cands.append((j, c))
        return cands

    def invalidate(self, j: int, m: int) -> None:
        """Forget the cached places of the jobs whose next op could use machine m (and job j itself)."""
        cache, jobs, nxt = self.cache, self.problem.jobs, self.nxt
        for k in list(cache):
            c = cache[k]
            if (
                k == j
                or c is None
                or self.power is not None
                or any(opt.machine == m for opt in jobs[k][nxt[k]].options)
            ):
                del cache[k]

    def place_of(self, j: int) -> Place | None:
        """(start, end, machine) of job j's next op on its earliest-completing machine."""
        problem, rng, noise, power = self.problem, self.rng, self.noise, self.power
        o = self.nxt[j]
        operation = problem.jobs[j][o]
        if (j, o) in self.fixed:
            m, s = self.fixed[(j, o)]
            opt = problem.option_on(j, o, m)
            assert opt is not None
            return (s, s + opt.duration, m) if s >= self.ready[j] else None
        est = max(self.ready[j], operation.release)
        best: Place | None = None
        for opt in operation.options:
            s = self.lines[opt.machine].earliest(est, opt.duration)
            if power is not None:
                s = _power_start(self.lines[opt.machine], power, s, opt.duration, opt.power)
            cand = (s, s + opt.duration, opt.machine)
            if best is None or cand[1] < best[1] or (cand[1] == best[1] and noise and rng.random() < 0.5):
                best = cand
        if best is not None and (j, o) in self.deadline and best[1] > self.deadline[(j, o)]:
            return None
        return best


def _power_start(line: _Timeline, power: _Power, s: int, dur: int, pw: int) -> int:
    """Earliest start >= s where both the machine and the power cap allow the operation."""
    while not power.fits(s, s + dur, pw):
        later = power.next_times(s)
        if not later:
            break
        s = line.earliest(later[0], dur)
    return s


def _pick(
    conflict: list[tuple[int, tuple[int, int, int]]],
    rule: str,
    rem: list[list[int]],
    nxt: list[int],
    rng: random.Random,
    noise: float,
) -> tuple[int, tuple[int, int, int]]:
    keys: dict[str, Callable[[tuple[int, tuple[int, int, int]]], float]] = {
        "mwkr": lambda x: -rem[x[0]][nxt[x[0]]],
        "ect": lambda x: x[1][1],
        "spt": lambda x: x[1][1] - x[1][0],
        "mopnr": lambda x: -(len(rem[x[0]]) - nxt[x[0]]),
        "random": lambda x: 0.0,
    }
    key = keys[rule]
    if rule == "random":
        return rng.choice(conflict)
    if noise:
        scale = max(1.0, max(abs(key(x)) for x in conflict))
        return min(conflict, key=lambda x: (key(x) + noise * scale * rng.random(), x[0]))
    return min(conflict, key=lambda x: (key(x), x[0]))


def best_greedy(
    problem: Problem,
    time_limit_s: float = 0.5,
    seed: int = 0,
    fixed: Fixed | None = None,
    max_passes: int | None = None,
) -> Solution | None:
    """Best of every dispatch rule plus randomized restarts until the time limit or ``max_passes``.

    With ``max_passes`` set the result depends only on ``seed`` (deterministic).
    """
    t0 = time.perf_counter()
    rng = random.Random(seed)
    best: Solution | None = None
    passes = 0
    while True:
        if passes < len(RULES):
            rule, noise = RULES[passes], 0.0
        else:
            rule, noise = rng.choice(("mwkr", "ect", "mwkr", "spt")), rng.choice((0.1, 0.2, 0.4))
        sol = list_schedule(problem, rule, random.Random(rng.random()), noise, fixed)
        passes += 1
        if sol is not None and (best is None or sol.makespan < best.makespan):
            best = sol
        if max_passes is not None:
            if passes >= max_passes:
                break
        elif time.perf_counter() - t0 >= time_limit_s and passes >= len(RULES):
            break
    if best is not None:
        best.wall_s = time.perf_counter() - t0
        best.stats = {**best.stats, "passes": passes}
    return best
