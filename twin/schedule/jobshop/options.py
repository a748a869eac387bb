"""The solver's knobs (:class:`SolveOptions`) and the measured defaults of its time shares.

Why these defaults: docs/scheduling-results.md has the measurements (standard sets, 10 s and 60 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PROBE_FRACTION",
    "TABU_FRACTION_FJSP",
    "TABU_FRACTION_JSSP",
    "TABU_ITERS_PER_S",
    "SolveOptions",
]

#: Share of the time limit the tabu search gets before CP-SAT on flexible shops: tabu finds better
#: schedules there than CP-SAT does in the same time.
TABU_FRACTION_FJSP = 0.5
#: The same on plain job-shops: a short tabu start, then CP-SAT's own search.
TABU_FRACTION_JSSP = 0.2
#: Share of the time for a CP-SAT probe before the (long) flexible-shop tabu: small instances are proven
#: optimal there instead of after the tabu's share.
PROBE_FRACTION = 0.1
#: Tabu iterations per second of time limit in deterministic mode (about what one core does on mk10).
TABU_ITERS_PER_S = 1500


@dataclass(frozen=True)
class SolveOptions:
    """Every setting of :func:`twin.schedule.jobshop.solve` but the problem, hint and frozen operations.

    ``full_fraction``: the share of the time the full CP-SAT search keeps before the LNS may take over
    (deterministic mode: its exact share); ``full_max_fraction``: at most this share; ``stall_fraction``:
    hand over once no solution improved for this share. ``lns`` None: on for flexible shops only.
    ``tabu_fraction`` / ``probe_fraction`` None: the measured defaults above (0 turns either off).
    """

    time_limit_s: float = 10.0
    workers: int = 2
    seed: int = 0
    deterministic: bool = False
    full_fraction: float = 0.5
    full_max_fraction: float = 1.0
    stall_fraction: float = 0.25
    lns: bool | None = None
    lns_limit_s: float = 1.0
    lns_workers: int | None = None
    flow_tiebreak: bool = True
    trace: bool = False
    params: Mapping[str, Any] | None = None
    lns_params: Mapping[str, Any] | None = None
    tabu_fraction: float | None = None
    probe_fraction: float | None = None
