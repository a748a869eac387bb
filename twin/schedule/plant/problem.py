"""The plant scheduling problem: lots of car models on lines and cells, built from the plant and the twin.

Abstraction (why it is coarse): the re-planner decides *which model is built where, when and in what
order* over the planning horizon; the station-level flow inside a line is the simulator's business
(:mod:`twin.sim`). So the scheduling resources are

- a **flow line** (dedicated or mixed) *pipelines*: a lot of ``q`` cars holds the line while its cars
  enter, one per bottleneck cycle of that model (``q * max(cycles)``, parallel stations for one operation
  divide its cycle), the next lot follows right behind, and the last car leaves the line's *fill time*
  (``sum(cycles) - max(cycles)``) after it entered, so the fill is paid once per run, not per lot. Cars
  must leave within the working time of the horizon (a line pauses with its cars inside when a shift
  ends and resumes in the next); a model is eligible on a line when every step of its routing has eligible
  equipment there;
- a **cell** (of a cell block): it builds a car through its whole routing, ``duration = q * sum(cycles)``;
- in a cell block with AGVs a cell is also held while its car is carried in, and each car takes a trip
  in, one between cells and one out (:func:`twin.schedule.plant.resources.plant_modes`).

A lot is built wholly on one resource and its cars enter inside one available window (a shift minus
faults), so lots are capped to what fits in a shift (:func:`twin.schedule.plant.lots.max_lot_sizes`).
A resource switching from model ``a`` to ``b`` waits ``plant.changeover_s(a, b)``; the model a resource
is set up for at ``now`` comes from the current plan or the live ``model`` tag. Energy: a resource powered
in a shift window draws its stations' idle power for the whole window; a lot adds
``sum over stations (rated - idle) * busy time`` on top. Peak power counts rated kW of resources that are
processing at the same time. Lots of one model with the same size are interchangeable; the model breaks
that symmetry by their index.

This module holds the problem's data types and the plan calendar (shift windows, a plan's origin);
:func:`twin.schedule.plant.build.build_problem` fills them from a plant. Everything here is pure data:
times are integer seconds from ``origin`` (epoch seconds of the plan's t=0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from twin.calendar import working_windows
from twin.model import Plan, Plant
from twin.tariff import TariffClock

__all__ = [
    "Fixed",
    "Mode",
    "PlantLot",
    "PlantProblem",
    "Resource",
    "Weights",
    "Window",
    "choose_origin",
    "plan_origin",
    "shift_windows",
    "shortest_shift_s",
]


@dataclass(frozen=True)
class Window:
    """A time window ``[start, end)`` in seconds from the origin, during which a resource may work."""

    start: int
    end: int
    shift: str = ""

    @property
    def length(self) -> int:
        """Window length in seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class Resource:
    """A line or a cell, as the scheduler sees it."""

    id: str
    kind: str  # "line", "block" (specialised cells) or "cell"
    line: str
    stations: tuple[str, ...]
    run_kw: float  # every station at rated power (what a peak-power cap counts)
    idle_kw: float  # every station idling (what a powered resource draws when not building)
    windows: tuple[Window, ...]
    initial_model: str | None = None


@dataclass(frozen=True)
class Mode:
    """How one model is built on one resource.

    A cell holds the resource for ``setup_s + q * per_car_s``. A flow resource (a line, a block of
    specialised cells) *pipelines*: a lot holds it only while its cars enter (``q * per_car_s``, one per
    bottleneck cycle), the next lot's cars follow right behind, and the last car leaves ``drain_s`` (the
    fill time, ``setup_s``) after it entered: the fill is paid once per run of the line, not per lot.
    """

    resource: str
    setup_s: float
    per_car_s: float
    extra_kwh_per_car: float  # energy above the idle draw, per car
    pipelined: bool = False

    def duration(self, quantity: int) -> int:
        """Seconds the lot holds the resource (integer, rounded up): its cars' entries on a flow line."""
        setup = 0.0 if self.pipelined else self.setup_s
        return math.ceil(setup + quantity * self.per_car_s - 1e-9)

    @property
    def drain_s(self) -> int:
        """Seconds from the last car's entry to its exit (0 on a cell: the lot ends with its car)."""
        return math.ceil(self.setup_s - 1e-9) if self.pipelined else 0

    def completion(self, quantity: int) -> int:
        """Seconds from the lot's start until its last car is finished."""
        return self.duration(quantity) + self.drain_s

    def extra_kwh(self, quantity: int) -> float:
        """Energy above idle to build ``quantity`` cars."""
        return self.extra_kwh_per_car * quantity


@dataclass(frozen=True)
class Fixed:
    """A lot that must stay where it is (work in progress, or inside the frozen window)."""

    resource: str
    start: int


@dataclass(frozen=True)
class PlantLot:
    """A production lot: ``quantity`` cars of ``model``."""

    id: str
    model: str
    quantity: int
    index: int  # position among the lots of its model (symmetry breaking, stability matching)
    release: int = 0
    due: int | None = None
    predecessors: tuple[str, ...] = ()
    fixed: Fixed | None = None


@dataclass(frozen=True)
class Weights:
    """Objective weights, in priority order (each level dominates the next in practice).

    Units: per car unmet, per minute late, per kWh, per powered (resource, shift window), per minute of
    changeover, per minute a lot moved against the reference plan, per lot moved to another resource.
    Under the objective "cost" the kWh weight gives way to ``energy_cost`` (energy priced by the tariff),
    under "time" to ``finish_min`` (kWh only break ties); see :mod:`twin.schedule.plant.model.energy`.
    """

    unmet_car: int = 1_000_000
    tardy_min: int = 1_000
    kwh: int = 100
    active_window: int = 500
    changeover_min: int = 10
    moved_min: int = 1
    reassigned: int = 60
    #: Objective "cost": per kWh at the horizon's mean tariff price (so a kWh weighs what ``kwh`` weighs).
    energy_cost: int = 100
    #: Objective "time": per minute a lot finishes later (the sum over lots).
    finish_min: int = 20


@dataclass
class PlantProblem:
    """A complete scheduling problem (see the module docstring for the abstraction)."""

    origin: float
    now: int
    horizon: int
    resources: dict[str, Resource]
    modes: dict[str, dict[str, Mode]]  # model -> resource id -> mode
    changeover: dict[tuple[str, str], int]  # (from, to) -> seconds, for from != to
    lots: list[PlantLot]
    demand: dict[str, int]
    power_cap_kw: float | None = None
    reference: dict[str, tuple[str, int]] = field(default_factory=dict)  # lot -> (resource, start)
    weights: Weights = field(default_factory=Weights)
    #: What the builder changed from what it was asked for (e.g. a lot size capped to fit a shift).
    notes: list[str] = field(default_factory=list)
    #: What the objective minimises after unmet demand: "energy" (kWh), "cost" (under ``tariff``), "time".
    objective: str = "energy"
    #: The plant's tariff on this plan's clock (times from ``origin``), for the objective "cost".
    tariff: TariffClock | None = None
    #: The most cars any plan can build (:mod:`twin.schedule.plant.capacity`); None: not computed.
    max_cars: int | None = None

    def lot(self, lot_id: str) -> PlantLot:
        """A lot by id."""
        for lot in self.lots:
            if lot.id == lot_id:
                return lot
        raise KeyError(lot_id)

    def changeover_s(self, a: str | None, b: str) -> int:
        """Changeover seconds from ``a`` to ``b`` (0 for the same model or from nothing)."""
        if a is None or a == b:
            return 0
        return self.changeover.get((a, b), 0)

    def eligible(self, lot: PlantLot) -> list[str]:
        """Resources that can build ``lot`` (the fixed one only, for a frozen lot)."""
        if lot.fixed is not None:
            return [lot.fixed.resource]
        return [r for r in self.modes.get(lot.model, {}) if self.resources[r].windows]

    def describe(self) -> dict[str, Any]:
        """A short summary (for logs and plan metadata)."""
        return {
            "lots": len(self.lots),
            "frozen": sum(1 for lot in self.lots if lot.fixed is not None),
            "resources": len(self.resources),
            "models": sorted(self.modes),
            "horizon_s": self.horizon,
            "now_s": self.now,
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------------------------- calendar
def shift_windows(plant: Plant, origin: float, horizon_s: int) -> list[Window]:
    """Working windows of the plant calendar inside ``[0, horizon_s)`` (UTC clock times), whole seconds.

    Overlapping shifts merge; back-to-back shifts stay separate windows, so a resource can be powered in
    one shift and off in the next (a lot never spans two shifts). The simulation sees the same working
    time with back-to-back shifts joined (:func:`twin.calendar.working_windows`). No shifts: no windows.
    """
    out: list[Window] = []
    if not plant.calendar.shifts:
        return out
    for w in working_windows(plant.calendar.shifts, origin, join_touching=False):
        if w.start >= horizon_s:
            break
        s = max(math.ceil(w.start), 0)
        e = horizon_s if w.end >= horizon_s else math.floor(w.end)
        if e > s:
            out.append(Window(s, e, w.shift))
    return out


def shortest_shift_s(plant: Plant, horizon_s: int) -> int:
    """The shortest shift of the plant calendar in seconds (at most the horizon): the window every lot
    must fit in, wherever it lands (a shift of equal start and end lasts 24 h)."""
    lengths: list[int] = []
    for sh in plant.calendar.shifts:
        h1, m1 = (int(x) for x in sh.start.split(":"))
        h2, m2 = (int(x) for x in sh.end.split(":"))
        length = ((h2 * 60 + m2) - (h1 * 60 + m1)) % (24 * 60) or 24 * 60
        lengths.append(length * 60)
    return min([*lengths, horizon_s])


def choose_origin(plant: Plant, now: float) -> float:
    """A plan's t=0 for a fresh plan at epoch ``now``: the start of the shift running now, else the next
    shift start within a day, else ``now`` (whole minutes)."""
    now = math.floor(now / 60) * 60
    wins = shift_windows(plant, now - 86400, 2 * 86400)
    for w in wins:
        a, b = now - 86400 + w.start, now - 86400 + w.end
        if a <= now < b or a >= now:
            return float(a)
    return float(now)


def plan_origin(plan: Plan) -> float | None:
    """The epoch time of a plan's t=0 (stored in its metadata), if any."""
    v = plan.meta.get("origin")
    return float(v) if isinstance(v, int | float) else None
