"""Job-shop problem data (the small dataclasses the solvers share) and readers for standard instance files.

A :class:`Problem` is a list of jobs; each job is an ordered chain of :class:`Operation` s; each operation
runs on exactly one of its eligible machines (:class:`Option`: machine + duration, optionally a power draw).
Machines are always 0-based inside; ``machine_base`` remembers how the source file numbered them
(0 for OR-Library JSSP, 1 for Brandimarte ``.fjs``) so output can use the file's numbering.

Readers:

* :func:`read_jssp`: OR-Library / JSPLIB "standard" format: ``n m`` then per job ``m`` pairs
  ``machine time`` (0-based machines). Leading ``#`` comment lines are skipped.
* :func:`read_fjs`: Brandimarte / Hurink ``.fjs``: ``n m [avg]``, then per job ``k`` and for each operation
  ``a`` followed by ``a`` pairs ``machine time`` (1-based). Machines are sized as
  ``max(header m, max index used)`` (mk06 declares 15 but uses 10).
* :func:`read_instance`: by extension (``.fjs`` -> FJSP, otherwise JSSP).

Every format error raises :class:`InstanceError` naming the file, the line and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import TwinError

__all__ = [
    "InstanceError",
    "Operation",
    "Option",
    "Problem",
    "ScheduleInvalidError",
    "ScheduledOp",
    "Solution",
    "read_fjs",
    "read_instance",
    "read_jssp",
]


class InstanceError(TwinError):
    """A scheduling instance file is malformed: names the file, the line number and the problem."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}")


class ScheduleInvalidError(TwinError):
    """A schedule violates the problem (precedence, overlap, eligibility, duration, fixed op, power cap)."""


@dataclass(frozen=True)
class Option:
    """One way to run an operation: on ``machine`` (0-based) for ``duration``, drawing ``power`` meanwhile."""

    machine: int
    duration: int
    power: int = 0


@dataclass(frozen=True)
class Operation:
    """One step of a job: runs on exactly one of ``options``, not before ``release``."""

    options: tuple[Option, ...]
    release: int = 0

    @property
    def min_duration(self) -> int:
        """The shortest duration over the eligible machines."""
        return min(o.duration for o in self.options)


@dataclass(frozen=True)
class Problem:
    """A (flexible) job-shop: jobs are chains of operations; each machine runs one operation at a time.

    ``power_cap``, when set, bounds the summed ``power`` of the options running at any instant.
    """

    jobs: tuple[tuple[Operation, ...], ...]
    n_machines: int
    name: str = ""
    machine_base: int = 0
    power_cap: int | None = None

    @property
    def n_ops(self) -> int:
        """Total number of operations."""
        return sum(len(j) for j in self.jobs)

    @property
    def flexible(self) -> bool:
        """True when some operation has more than one eligible machine."""
        return any(len(op.options) > 1 for job in self.jobs for op in job)

    def op_ids(self) -> list[tuple[int, int]]:
        """All ``(job, op)`` pairs in job order."""
        return [(j, o) for j, job in enumerate(self.jobs) for o in range(len(job))]

    def option_on(self, job: int, op: int, machine: int) -> Option | None:
        """The option of ``(job, op)`` on ``machine`` (0-based), or None when it is not eligible there."""
        for opt in self.jobs[job][op].options:
            if opt.machine == machine:
                return opt
        return None


@dataclass(frozen=True)
class ScheduledOp:
    """One operation placed in time: 0-based job/op and machine; ``end = start + duration``."""

    job: int
    op: int
    machine: int
    start: int
    end: int


@dataclass
class Solution:
    """A solver's answer: the schedule (possibly empty if none was found) and what is known about it.

    ``status`` is one of ``OPTIMAL`` (makespan == lower_bound), ``FEASIBLE``, ``INFEASIBLE``, ``UNKNOWN``.
    """

    makespan: int
    lower_bound: int
    status: str
    wall_s: float
    ops: tuple[ScheduledOp, ...]
    stats: dict[str, Any] = field(default_factory=dict)

    def assignment(self) -> dict[tuple[int, int], tuple[int, int]]:
        """``(job, op) -> (machine, start)``: the form ``solve(fixed=..., hint=...)`` takes."""
        return {(s.job, s.op): (s.machine, s.start) for s in self.ops}

    def to_json(self, machine_base: int = 0) -> dict[str, Any]:
        """The CLI's JSON form; machines renumbered by ``machine_base`` (as in the source file)."""
        return {
            "makespan": self.makespan,
            "lower_bound": self.lower_bound,
            "status": self.status,
            "wall_s": round(self.wall_s, 3),
            "stats": self.stats,
            "schedule": [
                {
                    "job": s.job,
                    "op": s.op,
                    "machine": s.machine + machine_base,
                    "start": s.start,
                    "end": s.end,
                }
                for s in sorted(self.ops, key=lambda s: (s.job, s.op))
            ],
        }


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """Non-blank, non-comment lines as ``(1-based line number, tokens)``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InstanceError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    out = []
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        out.append((no, s.split()))
    if not out:
        raise InstanceError(str(path), None, "file is empty")
    return out


def _ints(path: Path, no: int, tokens: list[str], what: str) -> list[int]:
    try:
        return [int(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise InstanceError(str(path), no, f"{what}: {bad!r} is not an integer") from None


def _header(path: Path, no: int, tokens: list[str], allow_avg: bool) -> tuple[int, int]:
    if len(tokens) < 2 or len(tokens) > (3 if allow_avg else 2):
        want = "'n m [avg]'" if allow_avg else "'n m'"
        raise InstanceError(
            str(path), no, f"header must be {want} (jobs, machines), got {' '.join(tokens)!r}"
        )
    n, m = _ints(path, no, tokens[:2], "header")
    if n <= 0 or m <= 0:
        raise InstanceError(str(path), no, f"header: jobs and machines must be positive, got {n} {m}")
    return n, m


def _header_and_jobs(p: Path, allow_avg: bool) -> tuple[int, list[tuple[int, list[str]]]]:
    """The header's machine count and its job lines, exactly as many as declared: (line number, tokens)."""
    lines = _lines(p)
    (hno, htok), body = lines[0], lines[1:]
    n, m = _header(p, hno, htok, allow_avg=allow_avg)
    if len(body) < n:
        last = body[-1][0] if body else hno
        raise InstanceError(str(p), last, f"expected {n} job lines after the header, found {len(body)}")
    if len(body) > n:
        raise InstanceError(str(p), body[n][0], f"unexpected extra line: header declares {n} jobs")
    return m, body


def read_jssp(path: str | Path) -> Problem:
    """Read an OR-Library JSSP file (0-based machines; every job visits every machine once)."""
    p = Path(path)
    m, body = _header_and_jobs(p, allow_avg=False)
    jobs = []
    for j, (no, tokens) in enumerate(body):
        vals = _ints(p, no, tokens, f"job {j}")
        if len(vals) != 2 * m:
            raise InstanceError(
                str(p), no, f"job {j}: expected {m} 'machine time' pairs, got {len(vals)} numbers"
            )
        ops = []
        for k in range(m):
            mach, dur = vals[2 * k], vals[2 * k + 1]
            if not 0 <= mach < m:
                raise InstanceError(str(p), no, f"job {j} op {k}: machine {mach} outside 0..{m - 1}")
            if dur < 0:
                raise InstanceError(str(p), no, f"job {j} op {k}: negative duration {dur}")
            ops.append(Operation((Option(mach, dur),)))
        jobs.append(tuple(ops))
    return Problem(tuple(jobs), m, name=p.stem, machine_base=0)


def read_fjs(path: str | Path) -> Problem:
    """Read a Brandimarte/Hurink ``.fjs`` FJSP file (1-based machines)."""
    p = Path(path)
    m, body = _header_and_jobs(p, allow_avg=True)
    jobs = []
    max_machine = 0
    for j, (no, tokens) in enumerate(body):
        vals = _ints(p, no, tokens, f"job {j}")
        pos = 0

        def take(what: str, _vals: list[int] = vals, _no: int = no, _j: int = j) -> int:
            nonlocal pos
            if pos >= len(_vals):
                raise InstanceError(str(p), _no, f"job {_j}: line ends early, expected {what}")
            v = _vals[pos]
            pos += 1
            return v

        k = take("the number of operations")
        if k <= 0:
            raise InstanceError(str(p), no, f"job {j}: number of operations must be positive, got {k}")
        ops = []
        for o in range(k):
            a = take(f"op {o}'s number of eligible machines")
            if a <= 0:
                raise InstanceError(
                    str(p), no, f"job {j} op {o}: number of eligible machines must be positive"
                )
            opts: list[Option] = []
            for _ in range(a):
                mach = take(f"op {o}'s machine")
                dur = take(f"op {o}'s processing time on machine {mach}")
                if mach < 1:
                    raise InstanceError(
                        str(p), no, f"job {j} op {o}: machine {mach} < 1 (machines are 1-based)"
                    )
                if dur < 0:
                    raise InstanceError(str(p), no, f"job {j} op {o}: negative duration {dur}")
                if any(x.machine == mach - 1 for x in opts):
                    raise InstanceError(str(p), no, f"job {j} op {o}: machine {mach} listed twice")
                max_machine = max(max_machine, mach)
                opts.append(Option(mach - 1, dur))
            ops.append(Operation(tuple(opts)))
        if pos != len(vals):
            raise InstanceError(
                str(p), no, f"job {j}: {len(vals) - pos} unexpected numbers after its {k} operations"
            )
        jobs.append(tuple(ops))
    # mk06 quirk: the header may declare more machines than used (fine) or fewer (size up).
    return Problem(tuple(jobs), max(m, max_machine), name=p.stem, machine_base=1)


def read_instance(path: str | Path) -> Problem:
    """Read a JSSP (``*.txt`` etc.) or FJSP (``*.fjs``) instance, by file extension."""
    p = Path(path)
    if not p.exists():
        raise InstanceError(str(p), None, "no such file")
    return read_fjs(p) if p.suffix.lower() == ".fjs" else read_jssp(p)
