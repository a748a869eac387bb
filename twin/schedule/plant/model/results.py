"""What the plant model hands back: scheduled lots, the objective by component, the solver's outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Scheduled", "Score", "SolveResult"]


@dataclass(frozen=True)
class Scheduled:
    """One lot placed on a resource."""

    lot: str
    model: str
    quantity: int
    resource: str
    start: int
    end: int


@dataclass
class Score:
    """The objective of a schedule, by component (``total`` is what the solver minimises)."""

    total: int
    unmet_cars: int
    tardy_s: int
    energy_kwh: float
    active_windows: int
    campaigns: int
    moved_s: int
    reassigned: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class SolveResult:
    """What the solver returned."""

    schedule: list[Scheduled]
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID
    objective: int | None
    bound: int | None
    wall_s: float
    gap: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    #: Hours the schedule switches resources off inside their powered windows, ``(resource, start, end)``.
    off: list[tuple[str, int, int]] = field(default_factory=list)
