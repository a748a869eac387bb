"""The flow model's knobs and value types: :class:`SimOptions`, a planned :class:`Lot`, a car (:class:`Part`).

Also the shapes shared by every module of :mod:`twin.sim`: a published change (:data:`ChangeTuple`), its
listener (:data:`OnChange`) and a SimPy process body (:data:`SimGen`), with the state constants the hot
paths compare by identity.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from twin.model import EquipmentType, StationState

__all__ = ["ChangeTuple", "Lot", "OnChange", "Part", "SimGen", "SimOptions"]

#: A published value change: ``(equipment, tag, value, quality, source_ts)``.
ChangeTuple = tuple[str, str, Any, str, float]
OnChange = Callable[[list[ChangeTuple]], None]
SimGen = Generator[simpy.Event, Any, Any]

EPS = 1e-9
PROCESSING = (EquipmentType.STATION, EquipmentType.CELL)
#: Index of each state in a unit's time-in-state list (a list: enum hashing is slow on the hot path).
STATE_INDEX: dict[StationState, int] = {s: i for i, s in enumerate(StationState)}
IDLE, STARVED, BLOCKED = StationState.IDLE, StationState.STARVED, StationState.BLOCKED
RUNNING, OFF, FAULT = StationState.RUNNING, StationState.OFF, StationState.FAULT


@dataclass
class SimOptions:
    """Knobs of the flow model (defaults suit the demo; tests switch variance/faults off)."""

    #: Coefficient of variation of cycle times (normal, truncated at 50% of nominal); 0: deterministic.
    cycle_cv: float = 0.05
    #: Breakdowns from equipment ``mtbf_s``/``mttr_s``.
    faults: bool = True
    #: Multiplies every failure rate (e.g. 10 for a fault-heavy demo).
    fault_rate_scale: float = 1.0
    #: MTBF/MTTR for processing equipment that does not define them (None: no breakdowns).
    default_mtbf_s: float | None = None
    default_mttr_s: float = 300.0
    #: One AGV trip into or out of a cell, in seconds.
    agv_transfer_s: float = 30.0
    #: Capacity of the hand-over place between two flow stations with no buffer configured between them.
    handover_capacity: int = 1
    #: Release a lot no earlier than its ``start_s``.
    respect_start: bool = True
    #: Switch a line/cell off once its sequence is done (else it idles at idle power).
    off_when_done: bool = False
    #: Interval (sim seconds) at which energy and synthetic extra tags are refreshed in published values.
    tick_s: float = 5.0
    #: Lot size of the default plan derived from demand.
    default_lot: int = 10
    #: Start a line's/block's sequence over once it is done (keeps a live demo busy).
    repeat_sequence: bool = False
    #: Follow the plant's shift calendar (``plant.calendar.shifts``): outside the shift windows every piece
    #: of equipment is Off (zero power), no car is released and work in progress pauses until the next
    #: shift (a car is finished in the next shift, its remaining time kept). Off by default, so plan checks
    #: (:func:`check_plan`) and the live demo run around the clock unless asked; a scheduler whose lots sit
    #: inside shift windows turns it on to see lots that overrun a shift's end. Back-to-back shifts merge.
    calendar: bool = False
    #: UTC epoch seconds of simulation time 0, placing t=0 on the calendar's clock. None: the plan's
    #: ``meta["origin"]`` in :func:`simulate_plan`/:func:`check_plan`, else 0 (t=0 is 00:00 UTC).
    calendar_origin: float | None = None


@dataclass
class Lot:
    """A lot on a resource's sequence; ``remaining`` counts cars not released yet."""

    model: str
    quantity: int
    start_s: float = 0.0
    remaining: int = 0
    #: The queue (line, block or cell id) the lot was planned on.
    resource: str = ""

    def __post_init__(self) -> None:
        if self.remaining == 0:
            self.remaining = self.quantity


@dataclass
class Part:
    """One car in the plant."""

    id: int
    model: str
    released_at: float
