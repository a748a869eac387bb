"""The best schedule so far, as the solver's phases hand it on: ops by id, makespan, and flow time."""

from __future__ import annotations

from dataclasses import dataclass

from twin.schedule.jobshop.bounds import OpId
from twin.schedule.jobshop.instances import Problem, ScheduledOp

__all__ = ["Incumbent"]


@dataclass
class Incumbent:
    """A complete schedule; ``flow`` (the sum of job ends) breaks makespan ties: lower is better."""

    ops: dict[OpId, ScheduledOp]
    makespan: int
    flow: int

    @classmethod
    def of(cls, problem: Problem, ops: tuple[ScheduledOp, ...]) -> Incumbent:
        """The incumbent of a complete schedule of ``problem``."""
        d = {(s.job, s.op): s for s in ops}
        flow = sum(d[(j, len(job) - 1)].end for j, job in enumerate(problem.jobs) if job)
        return cls(d, max((s.end for s in ops), default=0), flow)

    def beats(self, other: Incumbent | None) -> bool:
        """Strictly better than ``other`` (makespan, then flow); always better than none."""
        return other is None or (self.makespan, self.flow) < (other.makespan, other.flow)

    def assignment(self) -> dict[OpId, tuple[int, int]]:
        """``(job, op) -> (machine, start)``, the form hints take."""
        return {k: (s.machine, s.start) for k, s in self.ops.items()}
