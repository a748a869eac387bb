"""One SimPy model of the plant's material flow: stations, buffers, cells, AGVs, faults, changeovers.

The same model runs in two clocks; only the environment differs:

* **virtual time** (``simpy.Environment``): :func:`check_plan` runs a plan over a horizon for several seeds,
  as fast as the CPU allows, for the scheduler's plan check;
* **scaled real time**: the simulated PLCs advance the model in slices paced against the wall clock
  (:meth:`FlowSim.advance`, called from their asyncio loop) and publish each slice's changes. A
  ``simpy.rt.RealtimeEnvironment`` may be passed in instead for blocking use (:func:`run_realtime`), but it
  sleeps inside ``run()``, which would freeze an asyncio event loop serving OPC UA.

Model (documented assumptions):

* A **flow line** (kind dedicated/mixed) is its processing stations in config order. Between two stations
  sits a FIFO of the capacity of the buffer(s) configured between them, else an implicit hand-over place of
  capacity 1. The first station takes cars from the line's production sequence (lots of ``(model, qty)``,
  released no earlier than the lot's ``start_s``); the last one completes them. A station processes the
  steps of the car's routing it is eligible for (sum of their ``cycle_s``; none: the car passes through).
  It is Starved while waiting for a car (Idle when the line has no work now: none left, or its next lot
  starts later, as with a plan dispatched before its shift), Blocked while the next
  place is full, in Changeover when the car's model differs from its set-up model
  (:meth:`twin.model.Plant.changeover_s`), Running while processing, Fault between a breakdown and its
  repair (exponential times from ``mtbf_s``/``mttr_s``; work in progress resumes), Off while the line is
  switched off and the station holds no car.
* A **cell block** (kind cells): a car visits one cell per *stage* of its routing (consecutive steps one
  cell can do together: one stage in a block of universal cells, several in a block of specialised body /
  paint / assembly cells). An AGV of the block carries it in, between cells and out (``agv_transfer_s`` per
  trip); a cell is Starved while it waits for a car, Blocked while its finished car waits for the next cell
  or an AGV. Lots assigned to a cell id use that cell wherever it is eligible; lots on the block id use
  whichever eligible cell is free. Released cars wait in staging (the block's buffer) for their first cell.
  Without AGV trips (``agv_transfer_s=0``), no variance and no faults a lot takes exactly what the
  scheduler's block model says (fill time + (q - 1) x the slowest stage's cycle over its cells); with them a
  cell is also held while its car is carried in, so each stage costs ``agv_transfer_s / cells`` more per car.
* Several stations of one flow line able to do the same step share it (each takes ``cycle_s / k``), as the
  scheduler assumes.
* **Power**: rated ``power_kw`` when Running, ``idle_power_kw`` otherwise, 0 when Off; energy integrates it.
* **Shift calendar** (only with :attr:`SimOptions.calendar`, off by default): outside the plant's shift
  windows (:func:`shift_windows`, t=0 placed on the UTC clock by :attr:`SimOptions.calendar_origin` or the
  plan's ``meta["origin"]``) everything is Off at zero power, no car is released and work pauses.

Changes are published through the ``on_change`` callback as batches of
``(equipment, tag, value, quality, source_ts)`` tuples, coalesced to the latest value per tag per flush.
The ``state`` tag carries the :class:`~twin.model.StationState` name (``"Running"``).

Cost (plan checks run it for several seeds while a re-plan waits): energy and time in state are integrated
on state changes only; with no ``on_change`` listener nothing is published and no ticker runs; a flow
station takes or hands over a car without a SimPy event unless it has to wait (:class:`Fifo`), and a busy
station does not pass through Starved between two cars. The outcome does not depend on whether anybody
listens (same seed, same run).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy

from twin.errors import ValidationError
from twin.model import (
    Equipment,
    EquipmentType,
    LineKind,
    OperationStep,
    Plan,
    PlanAssignment,
    Plant,
    StationState,
    TagType,
)

#: A published value change: ``(equipment, tag, value, quality, source_ts)``.
ChangeTuple = tuple[str, str, Any, str, float]
OnChange = Callable[[list[ChangeTuple]], None]
SimGen = Generator[simpy.Event, Any, Any]

_EPS = 1e-9
_PROCESSING = (EquipmentType.STATION, EquipmentType.CELL)
#: Index of each state in a unit's time-in-state list (a list: enum hashing is slow on the hot path).
_STATE_INDEX: dict[StationState, int] = {s: i for i, s in enumerate(StationState)}
_IDLE, _STARVED, _BLOCKED = StationState.IDLE, StationState.STARVED, StationState.BLOCKED
_RUNNING, _OFF, _FAULT = StationState.RUNNING, StationState.OFF, StationState.FAULT


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


class Unit:
    """Live state of one piece of equipment: a state machine with power, energy and counters."""

    def __init__(self, sim: FlowSim, eq: Equipment) -> None:
        self.sim = sim
        self.eq = eq
        self.phase = StationState.IDLE  # what the equipment is doing, before fault/off override
        self.fault = False
        self.off = False
        self.model = ""
        self.part_count = 0
        self.energy_kwh = 0.0
        self.alarm = ""
        self.cycle_time_s = 0.0
        self.level = 0
        self.state = StationState.IDLE
        self.power_kw = eq.idle_power_kw
        self._since = 0.0
        self._time = [0.0] * len(_STATE_INDEX)  # seconds per state, by _STATE_INDEX
        self._rated_kw = eq.power_kw
        self._idle_kw = eq.idle_power_kw
        self._processing = eq.type in _PROCESSING
        self.waiting_for_work = True  # phase IDLE/STARVED means "waiting": decided by the group
        self.group: Group | None = None
        self.repaired: simpy.Event = sim.env.event()
        self.working = False
        self.proc: simpy.Process | None = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def time_in(self) -> dict[StationState, float]:
        """Seconds spent in each visible state up to the last :meth:`integrate`."""
        return {s: self._time[i] for s, i in _STATE_INDEX.items()}

    def _derive(self) -> StationState:
        if self.sim.closed:
            return _OFF  # outside the shift calendar (a repair in progress goes on unseen)
        if self.fault:
            return _FAULT
        phase = self.phase
        if phase is _IDLE or phase is _STARVED:
            if self.off:
                return _OFF
            if phase is _STARVED and self.group is not None and not self.group.has_work_now():
                return _IDLE
        return phase

    def _power(self, state: StationState) -> float:
        if state is _OFF:
            return 0.0
        if state is _RUNNING:
            return self._rated_kw
        return self._idle_kw

    def integrate(self) -> None:
        """Account energy and time-in-state up to now (called on state changes, not per tick)."""
        now = self.sim.env.now
        dt = now - self._since
        if dt > 0:
            self.energy_kwh += self.power_kw * dt / 3600.0
            self._time[_STATE_INDEX[self.state]] += dt
            self._since = now

    def refresh(self) -> None:
        """Recompute the visible state; publish state and power if they changed."""
        new = self._derive()
        if new is self.state:
            return
        self.integrate()
        self.state = new
        self.power_kw = self._power(new)
        if self.sim.on_change is None:
            return  # a virtual-time check: nobody listens, skip building the values
        self.sim.publish(self.eq.id, "state", new.value)
        if self._processing:
            self.sim.publish(self.eq.id, "power_kw", self.power_kw)
            self.sim.publish(self.eq.id, "energy_kwh", round(self.energy_kwh, 4))

    def set_phase(self, phase: StationState) -> None:
        """Change what the equipment is doing."""
        self.phase = phase
        self.refresh()

    def set_model(self, model: str) -> None:
        """Set up for another model (publishes ``model`` and the nominal cycle time)."""
        if model != self.model:
            self.model = model
            if self.sim.on_change is not None:
                self.sim.publish(self.eq.id, "model", model)

    # -- work with breakdowns -----------------------------------------------------------------------
    def work(self, duration: float, phase: StationState) -> SimGen:
        """Spend ``duration`` seconds in ``phase``; a breakdown pauses the work until repaired."""
        remaining = duration
        sim = self.sim
        env = sim.env
        while remaining > _EPS:
            if self.fault:
                yield self.repaired
                continue
            if sim.closed:
                yield sim.shift_opened()
                continue
            self.phase = phase
            self.refresh()
            start = env.now
            self.proc = env.active_process  # the process a breakdown interrupts
            self.working = True
            try:
                yield env.timeout(remaining)
                remaining = 0.0
            except simpy.Interrupt:
                remaining -= env.now - start
            finally:
                self.working = False

    def pause(self, cause: str) -> None:
        """Interrupt the work in progress (it resumes with its remaining time in :meth:`work`)."""
        if self.working and self.proc is not None and self.proc.is_alive:
            self.working = False  # a second cause before the process resumes must not interrupt it again
            self.proc.interrupt(cause)

    def breakdowns(self, mtbf_s: float, mttr_s: float) -> SimGen:
        """Failure process: exponential time between failures and to repair."""
        env, rng = self.sim.env, self.sim.rng
        rate = self.sim.options.fault_rate_scale / mtbf_s
        while True:
            yield env.timeout(rng.expovariate(rate))
            if self.state in (StationState.OFF, StationState.IDLE):
                continue  # failures come with operation: equipment that is off or has no work does not break
            self.fault = True
            repair = rng.expovariate(1.0 / mttr_s)
            self.alarm = f"{self.eq.id}: breakdown at t={env.now:.0f}s, repair ~{repair:.0f}s"
            self.sim.publish(self.eq.id, "alarm", self.alarm)
            self.sim.faults += 1
            self.refresh()
            self.pause("fault")
            yield env.timeout(repair)
            self.fault = False
            self.alarm = ""
            self.sim.publish(self.eq.id, "alarm", "")
            self.refresh()
            done, self.repaired = self.repaired, env.event()
            done.succeed()

    def finish_part(self, cycle_s: float) -> None:
        """Count a processed car and publish the counter and the measured cycle time."""
        self.part_count += 1
        self.cycle_time_s = cycle_s
        if self.sim.on_change is None:
            return
        self.sim.publish(self.eq.id, "part_count", self.part_count)
        self.sim.publish(self.eq.id, "cycle_time_s", round(cycle_s, 3))


class Group:
    """A flow line or a cell block: holds sequences, WIP and the on/off switch of its equipment."""

    def __init__(self, sim: FlowSim, line_id: str, kind: LineKind) -> None:
        self.sim = sim
        self.id = line_id
        self.kind = kind
        self.units: list[Unit] = []
        self.queues: dict[str, deque[Lot]] = {line_id: deque()}
        self.wip = 0
        self.off = False
        self._wakeup: simpy.Event = sim.env.event()
        self.planned: dict[str, int] = {}
        self.completed: dict[str, int] = {}
        self._loaded: dict[str, list[Lot]] = {}
        #: Start the sequence over when it is done (see :attr:`SimOptions.repeat_sequence`).
        self.repeat = sim.options.repeat_sequence

    def has_work(self) -> bool:
        """Cars in progress or still to release."""
        return self.wip > 0 or any(q for q in self.queues.values())

    def has_work_now(self) -> bool:
        """Cars in progress, or a lot that may be released now. A line whose next lot starts later (a plan
        dispatched before its shift) waits for the plan, not for upstream: Idle, not Starved."""
        if self.wip > 0 or not self.sim.options.respect_start:
            return self.has_work()
        due = self.sim.env.now + _EPS
        return any(q and q[0].start_s <= due for q in self.queues.values())

    def wait_work(self) -> simpy.Event:
        """An event that fires when the sequence changes."""
        return self._wakeup

    def notify(self) -> None:
        """Wake processes waiting for work and refresh visible states (Starved vs Idle, Off)."""
        ev, self._wakeup = self._wakeup, self.sim.env.event()
        ev.succeed()
        self.refresh_all()

    def refresh_all(self) -> None:
        """Re-derive every unit's state (after WIP or on/off changes)."""
        for u in self.units:
            u.refresh()

    def set_off(self, off: bool) -> None:
        """Switch the whole line/block off (equipment holding a car finishes it first) or on."""
        self.off = off
        for u in self.units:
            u.off = off
        self.notify()

    def set_sequence(self, resource: str, lots: Iterable[Lot]) -> None:
        """Replace the pending (unreleased) sequence of ``resource`` (the line, block or a cell)."""
        if resource not in self.queues:
            raise ValidationError(f"{resource!r} is not a resource of {self.id!r}")
        q = deque(lot for lot in lots if lot.remaining > 0)
        for lot in q:
            lot.resource = resource
        self.queues[resource] = q
        self._loaded[resource] = [Lot(lot.model, lot.remaining, resource=resource) for lot in q]
        for lot in q:
            self.planned[lot.model] = self.planned.get(lot.model, 0) + lot.remaining
        self.notify()

    def take(self, resources: Sequence[str]) -> tuple[Lot | None, float | None]:
        """The first releasable lot of the given queues, or the earliest future start to wait for."""
        now = self.sim.env.now
        earliest: float | None = None
        if self.repeat and not any(self.queues.get(r) for r in resources):
            for r in resources:  # start over, releasing at once
                self.queues[r] = deque(
                    Lot(lot.model, lot.quantity, resource=r) for lot in self._loaded.get(r, [])
                )
        for r in resources:
            q = self.queues.get(r)
            if not q:
                continue
            lot = q[0]
            if self.sim.options.respect_start and lot.start_s > now + _EPS:
                earliest = lot.start_s if earliest is None else min(earliest, lot.start_s)
                continue
            lot.remaining -= 1
            if lot.remaining <= 0:
                q.popleft()
            return lot, None
        return None, earliest

    def complete(self, part: Part) -> None:
        """A car left the line finished."""
        self.wip -= 1
        self.completed[part.model] = self.completed.get(part.model, 0) + 1
        self.sim.on_complete(part)
        if not self.has_work():
            if self.sim.options.off_when_done:
                self.set_off(True)
            else:
                self.refresh_all()

    def wait_for_lot(self, resources: Sequence[str], unit: Unit) -> Generator[simpy.Event, Any, Part]:
        """Block until a car can be released from ``resources``; the unit shows Idle/Off meanwhile."""
        env = self.sim.env
        while True:
            if self.sim.closed:
                unit.set_phase(StationState.IDLE)
                yield self.sim.shift_opened()
                continue
            lot, earliest = self.take(resources)
            if lot is not None:
                if self.off:
                    self.set_off(False)
                self.wip += 1
                self.sim.part_seq += 1
                if self.wip == 1:
                    self.refresh_all()  # the line has work now: waiting stations turn Starved, conveyors run
                return Part(self.sim.part_seq, lot.model, env.now)
            unit.set_phase(StationState.IDLE)
            if earliest is not None:
                yield env.any_of([self.wait_work(), env.timeout(earliest - env.now)])
            else:
                yield self.wait_work()


class Fifo:
    """The place between two flow stations: one producer, one consumer, so at most one of each waits.

    Lighter than a ``simpy.Store``: a station takes a car that is there, or puts one where there is room,
    without an event; only a station that must wait yields one (woken by the other side).
    """

    __slots__ = ("capacity", "getter", "items", "putter")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[Part] = deque()
        self.getter: simpy.Event | None = None  # the consumer waiting for a car
        self.putter: simpy.Event | None = None  # the producer waiting for room

    def full(self) -> bool:
        """No room for another car."""
        return len(self.items) >= self.capacity


class FlowLine(Group):
    """A flow line: stations in order, FIFOs between them, cars released from one sequence."""

    def __init__(self, sim: FlowSim, line_id: str, kind: LineKind, equipment: list[Equipment]) -> None:
        super().__init__(sim, line_id, kind)
        env = sim.env
        stations = [e for e in equipment if e.type in (EquipmentType.STATION, EquipmentType.CELL)]
        station_ids = {e.id for e in stations}
        self.stations = [sim.add_unit(e, self) for e in stations]
        # The FIFO after each station: capacity of the buffers configured before the next station.
        self.fifos: list[Fifo] = []
        self.buffer_units: list[Unit | None] = []
        self.passive: list[Unit] = []
        pending_cap = 0
        pending_buf: Unit | None = None
        seen_station = False
        for e in equipment:
            if e.id in station_ids:
                if seen_station:
                    cap = pending_cap or sim.options.handover_capacity
                    self.fifos.append(Fifo(cap))
                    self.buffer_units.append(pending_buf)
                seen_station = True
                pending_cap, pending_buf = 0, None
            elif e.type == EquipmentType.BUFFER:
                u = sim.add_unit(e, self)
                u.phase = StationState.IDLE
                if seen_station:
                    pending_cap += e.capacity or 1
                    pending_buf = pending_buf or u
                self.passive.append(u)
            else:  # conveyors and AGVs of a flow line mirror the line's activity
                self.passive.append(sim.add_unit(e, self))
        self._movers = [p for p in self.passive if p.eq.type != EquipmentType.BUFFER]
        for i, u in enumerate(self.stations):
            u.proc = env.process(self._station(i, u))

    def level_changed(self, i: int) -> None:
        """Publish the level/state of the buffer behind FIFO ``i``."""
        b = self.buffer_units[i]
        if b is None:
            return
        fifo = self.fifos[i]
        level = len(fifo.items)
        b.level = level
        if self.sim.on_change is not None:
            self.sim.publish(b.eq.id, "level", level)
        if level == 0:
            b.set_phase(StationState.STARVED)
        elif level >= fifo.capacity:
            b.set_phase(StationState.BLOCKED)
        else:
            b.set_phase(StationState.RUNNING)

    def _station(self, i: int, u: Unit) -> SimGen:
        sim, env = self.sim, self.sim.env
        last = i == len(self.stations) - 1
        inbox = self.fifos[i - 1] if i > 0 else None
        out = None if last else self.fifos[i]
        cycles: dict[str, float] = {}  # model -> nominal cycle here (filled on first use)
        while True:
            if inbox is None:
                part = yield from self.wait_for_lot([self.id], u)
            else:
                if not inbox.items:
                    u.set_phase(StationState.STARVED)
                    inbox.getter = env.event()
                    yield inbox.getter
                part = inbox.items.popleft()
                if inbox.putter is not None:  # the upstream station was blocked on this place
                    ev, inbox.putter = inbox.putter, None
                    ev.succeed()
                self.level_changed(i - 1)
            nominal = cycles.get(part.model)
            if nominal is None:
                nominal = cycles[part.model] = sim.cycle_s(u.eq, part.model, self.id)
            if nominal > 0 and u.model == part.model and not u.fault and not sim.closed:
                # The common case inlined (no changeover, no breakdown, shift open): what process_stage()
                # and Unit.work() do, without two generator levels on every resume.
                ct = sim._vary(nominal)
                u.phase = _RUNNING
                u.refresh()
                start = env.now
                u.proc = env.active_process
                u.working = True
                try:
                    yield env.timeout(ct)
                    rest = 0.0
                except simpy.Interrupt:
                    rest = ct - (env.now - start)
                finally:
                    u.working = False
                if rest > _EPS:
                    yield from u.work(rest, _RUNNING)
                u.finish_part(ct)
            elif nominal > 0:
                yield from sim.process_stage(u, part, nominal)
            if out is None:
                u.set_phase(StationState.STARVED)
                self.complete(part)
            else:
                if out.full():
                    u.set_phase(StationState.BLOCKED)
                    out.putter = env.event()
                    yield out.putter
                out.items.append(part)
                if out.getter is not None:  # the downstream station was starved
                    ev, out.getter = out.getter, None
                    ev.succeed()
                self.level_changed(i)
                # Starved only if the next car is not there: set when waiting (above), so a busy station
                # does not flicker Running -> Starved -> Running within one instant.
                if inbox is not None and not inbox.items:
                    u.set_phase(StationState.STARVED)
            if self._movers:
                self._refresh_passive()

    def _refresh_passive(self) -> None:
        active = self.has_work_now()
        for p in self._movers:
            p.set_phase(StationState.RUNNING if active else StationState.IDLE)

    def refresh_all(self) -> None:
        """Also refresh conveyors' activity."""
        super().refresh_all()
        if hasattr(self, "_movers"):
            self._refresh_passive()


def _member(cands: frozenset[str]) -> Callable[[Unit], bool]:
    def ok(u: Unit) -> bool:
        return u.eq.id in cands

    return ok


class CellBlock(Group):
    """A block of cells fed by AGVs; a car visits one cell per stage of its routing.

    A *stage* is a maximal run of consecutive routing steps that one cell can do together: a block of
    universal cells builds a car in one stage (one cell), a block of specialised cells (body, paint,
    assembly, inspection) in several, carried between cells by an AGV. A car holds its cell until the next
    one is free (the cell shows Blocked), so stages drain forward and never deadlock. Released cars wait in
    staging (the block's buffer, if any) for their first cell.
    """

    def __init__(self, sim: FlowSim, line_id: str, equipment: list[Equipment]) -> None:
        super().__init__(sim, line_id, LineKind.CELLS)
        env = sim.env
        self.cells = [sim.add_unit(e, self) for e in equipment if e.type == EquipmentType.CELL]
        for c in self.cells:
            self.queues[c.eq.id] = deque()
        self.agv_units = [sim.add_unit(e, self) for e in equipment if e.type == EquipmentType.AGV]
        self.buffers = [sim.add_unit(e, self) for e in equipment if e.type == EquipmentType.BUFFER]
        for e in equipment:
            if e.type not in (EquipmentType.CELL, EquipmentType.AGV, EquipmentType.BUFFER):
                sim.add_unit(e, self)
        self.agvs: simpy.Store | None = None
        if self.agv_units:
            self.agvs = simpy.Store(env, capacity=len(self.agv_units))
            self.agvs.items.extend(self.agv_units)
        self.free = simpy.FilterStore(env, capacity=max(1, len(self.cells)))
        self.free.items.extend(self.cells)
        for c in self.cells:
            c.phase = StationState.STARVED
        self.staging_cap = sum(b.eq.capacity or 0 for b in self.buffers)
        self.wip_limit = max(1, len(self.cells) + self.staging_cap)
        self.staged = 0
        self._stages: dict[tuple[str, str], list[tuple[frozenset[str], float]]] = {}
        self._rr = 0
        env.process(self._dispatch())

    def stages(self, model: str, preferred: str | None) -> list[tuple[frozenset[str], float]]:
        """The cells (candidates) and nominal time of each stage of ``model`` in this block."""
        key = (model, preferred or "")
        if key in self._stages:
            return self._stages[key]
        m = self.sim._models.get(model)
        out: list[tuple[frozenset[str], float]] = []
        cur: set[str] = set()
        t = 0.0
        for step in m.routing if m is not None else []:
            if step.lines is not None and self.id not in step.lines:
                continue
            cells = {
                c.eq.id
                for c in self.cells
                if step.operation in c.eq.operations and (step.stations is None or c.eq.id in step.stations)
            }
            if preferred in cells:
                cells = {preferred}
            if not cells:
                continue
            if cur and cur & cells:
                cur &= cells
                t += step.cycle_s
            else:
                if cur:
                    out.append((frozenset(cur), t))
                cur, t = set(cells), step.cycle_s
        if cur:
            out.append((frozenset(cur), t))
        self._stages[key] = out
        return out

    def _staging_changed(self) -> None:
        for b in self.buffers:
            level = min(self.staged, b.eq.capacity or self.staged)
            b.level = level
            self.sim.publish(b.eq.id, "level", level)
            if level == 0:
                b.set_phase(StationState.STARVED)
            elif level >= (b.eq.capacity or 1):
                b.set_phase(StationState.BLOCKED)
            else:
                b.set_phase(StationState.RUNNING)

    def _dispatch(self) -> SimGen:
        env = self.sim.env
        while True:
            if self.sim.closed:
                yield self.sim.shift_opened()
                continue
            if self.wip >= self.wip_limit or (self.staging_cap and self.staged >= self.staging_cap):
                yield self._room
                continue
            res = list(self.queues)
            k = self._rr % len(res)
            self._rr += 1
            order = res[k:] + res[:k]
            lot, earliest = self.take(order)
            if lot is None:
                if earliest is not None:
                    yield env.any_of([self.wait_work(), env.timeout(earliest - env.now)])
                else:
                    yield self.wait_work()
                continue
            if self.off:
                self.set_off(False)
            self.wip += 1
            self.sim.part_seq += 1
            part = Part(self.sim.part_seq, lot.model, env.now)
            env.process(self._car(part, lot.resource if lot.resource != self.id else None))

    @property
    def _room(self) -> simpy.Event:
        ev: simpy.Event | None = getattr(self, "_room_ev", None)
        if ev is None or ev.triggered:
            ev = self.sim.env.event()
            self._room_ev = ev
        return ev

    def _free_room(self) -> None:
        ev: simpy.Event | None = getattr(self, "_room_ev", None)
        if ev is not None and not ev.triggered:
            ev.succeed()

    def _agv(self) -> Generator[simpy.Event, Any, Unit | None]:
        if self.agvs is None:
            return None
        agv: Unit = yield self.agvs.get()
        agv.set_phase(StationState.RUNNING)
        return agv

    def _trip(self, agv: Unit | None) -> SimGen:
        if agv is None:
            return
        yield from agv.work(self.sim.options.agv_transfer_s, StationState.RUNNING)  # pauses off shift
        agv.set_phase(StationState.IDLE)
        yield self.agvs.put(agv) if self.agvs is not None else self.sim.env.timeout(0)

    def _car(self, part: Part, preferred: str | None) -> SimGen:
        stages = self.stages(part.model, preferred)
        self.staged += 1
        self._staging_changed()
        held: Unit | None = None
        for i, (cands, nominal) in enumerate(stages):
            if held is not None and not any(c.eq.id in cands for c in self.free.items):
                held.set_phase(StationState.BLOCKED)
            cell: Unit = yield self.free.get(_member(cands))
            if i == 0:
                self.staged -= 1
                self._staging_changed()
                self._free_room()
            cell.set_phase(StationState.STARVED)  # waiting for the car to arrive
            if held is not None:
                held.set_phase(StationState.BLOCKED)
            agv = yield from self._agv()
            if held is not None:  # the AGV picked the car up: the previous cell is free again
                held.set_phase(StationState.STARVED)
                yield self.free.put(held)
            yield from self._trip(agv)
            yield from self.sim.process_stage(cell, part, nominal)
            held = cell
        if held is not None:
            held.set_phase(StationState.BLOCKED)
            agv = yield from self._agv()
            held.set_phase(StationState.STARVED)
            yield self.free.put(held)
            yield from self._trip(agv)
        else:  # nothing to do in this block for this model
            self.staged -= 1
            self._staging_changed()
        self.complete(part)
        self._free_room()


class FlowSim:
    """The plant's flow model on a SimPy environment.

    ``clock`` maps simulation time to the source timestamp of published values (default: the wall time at
    construction plus simulation seconds). ``on_change`` receives each flushed batch; with none, nothing is
    recorded (fast plan checks).
    """

    def __init__(
        self,
        plant: Plant,
        env: simpy.Environment | None = None,
        *,
        seed: int = 0,
        options: SimOptions | None = None,
        on_change: OnChange | None = None,
        clock: Callable[[float], float] | None = None,
    ) -> None:
        self.plant = plant
        self.env = env if env is not None else simpy.Environment()
        self.rng = random.Random(seed)
        self.options = options or SimOptions()
        self.on_change = on_change
        t0 = time.time()
        self.clock = clock or (lambda t: t0 + t)
        self._pending: dict[tuple[str, str], Any] = {}
        self._pending_ts: dict[tuple[str, str], float] = {}
        self.units: dict[str, Unit] = {}
        self.groups: dict[str, Group] = {}
        self.resource_group: dict[str, Group] = {}
        self.part_seq = 0
        self.faults = 0
        self.completed: dict[str, int] = {}
        self.last_completion_s = 0.0
        self._models = plant.model_by_id()
        self._cycle_cache: dict[tuple[str, str], float] = {}
        self._extra_rng = random.Random(seed + 1)
        #: True while the shift calendar has the plant closed (only with ``options.calendar``).
        self.closed = False
        self._opened: simpy.Event = self.env.event()
        windows: Iterator[tuple[float, float]] | None = None
        if self.options.calendar and plant.calendar.shifts:
            windows = shift_windows(plant, self.options.calendar_origin or 0.0, self.env.now)
            first = next(windows)
            self.closed = first[0] > self.env.now + _EPS
            windows = itertools.chain([first], windows)
        for line in plant.lines:
            g: Group
            if line.kind == LineKind.CELLS:
                g = CellBlock(self, line.id, line.equipment)
            else:
                g = FlowLine(self, line.id, line.kind, line.equipment)
            self.groups[line.id] = g
            for r in g.queues:
                self.resource_group[r] = g
        if self.closed:
            for g in self.groups.values():
                g.refresh_all()  # Off from the start
        for u in self.units.values():
            self._publish_initial(u)
            self._start_breakdowns(u)
        if self.on_change is not None and self.options.tick_s > 0:
            self.env.process(self._ticker())
        if windows is not None:
            self.env.process(self._shift_clock(windows))

    # -- shift calendar ---------------------------------------------------------------------------
    def shift_opened(self) -> simpy.Event:
        """An event that fires when the next shift starts."""
        return self._opened

    def _set_closed(self, closed: bool) -> None:
        if closed == self.closed:
            return
        self.closed = closed
        if closed:
            for u in self.units.values():
                u.pause("shift end")
        else:
            ev, self._opened = self._opened, self.env.event()
            ev.succeed()
        for g in self.groups.values():
            g.refresh_all()

    def _shift_clock(self, windows: Iterator[tuple[float, float]]) -> SimGen:
        env = self.env
        for start, end in windows:
            if end <= env.now:
                continue
            if start > env.now:
                self._set_closed(True)
                yield env.timeout(start - env.now)
            self._set_closed(False)
            if math.isinf(end):
                return
            yield env.timeout(end - env.now)

    # -- construction helpers ---------------------------------------------------------------------
    def add_unit(self, eq: Equipment, group: Group) -> Unit:
        """Create the live state of ``eq`` in ``group``."""
        u = Unit(self, eq)
        u.group = group
        group.units.append(u)
        self.units[eq.id] = u
        return u

    def _publish_initial(self, u: Unit) -> None:
        for t in u.eq.tags():
            if t.name == "state":
                self.publish(u.eq.id, "state", u.state.value)
            elif t.name == "model":
                self.publish(u.eq.id, "model", "")
            elif t.name in ("part_count", "level"):
                self.publish(u.eq.id, t.name, 0)
            elif t.name == "cycle_time_s":
                self.publish(u.eq.id, t.name, 0.0)
            elif t.name == "power_kw":
                self.publish(u.eq.id, t.name, u.power_kw)
            elif t.name == "energy_kwh":
                self.publish(u.eq.id, t.name, 0.0)
            elif t.name == "alarm":
                self.publish(u.eq.id, t.name, "")
            else:
                self.publish(u.eq.id, t.name, self._extra_value(t.type, t.min, t.max, None))

    def _start_breakdowns(self, u: Unit) -> None:
        if not self.options.faults or u.eq.type not in (EquipmentType.STATION, EquipmentType.CELL):
            return
        mtbf = u.eq.mtbf_s or self.options.default_mtbf_s
        mttr = u.eq.mttr_s or self.options.default_mttr_s
        if mtbf:
            self.env.process(u.breakdowns(mtbf, mttr))

    # -- publishing ---------------------------------------------------------------------------------
    def publish(self, equipment: str, tag: str, value: Any) -> None:
        """Record a value change for the next flush (latest value per tag wins)."""
        if self.on_change is None:
            return
        key = (equipment, tag)
        self._pending[key] = value
        self._pending_ts[key] = self.env.now

    def flush(self) -> list[ChangeTuple]:
        """Hand the recorded changes to ``on_change`` as one batch; returns the batch."""
        if not self._pending:
            return []
        clock = self.clock
        batch = [
            (eq, tag, v, "good", clock(self._pending_ts[(eq, tag)])) for (eq, tag), v in self._pending.items()
        ]
        self._pending.clear()
        self._pending_ts.clear()
        if self.on_change is not None:
            self.on_change(batch)
        return batch

    def _extra_value(self, kind: TagType, lo: float | None, hi: float | None, prev: Any) -> Any:
        """A plausible value for a configured extra tag (a bounded random walk)."""
        if kind == TagType.STRING:
            return prev if prev is not None else ""
        if kind == TagType.BOOL:
            return bool(self._extra_rng.random() < 0.5)
        lo_v = lo if lo is not None else 0.0
        hi_v = hi if hi is not None else lo_v + 100.0
        base = (lo_v + hi_v) / 2 if prev is None else float(prev)
        v = min(hi_v, max(lo_v, base + self._extra_rng.gauss(0.0, (hi_v - lo_v) * 0.02)))
        if kind in (TagType.INT, TagType.ENUM):
            return round(v)
        return round(v, 3)

    def _ticker(self) -> SimGen:
        extra = [(u, t) for u in self.units.values() for t in u.eq.extra_tags]
        last: dict[tuple[str, str], Any] = {}
        while True:
            yield self.env.timeout(self.options.tick_s)
            for u in self.units.values():
                if u.eq.type in (EquipmentType.STATION, EquipmentType.CELL):
                    u.integrate()
                    self.publish(u.eq.id, "energy_kwh", round(u.energy_kwh, 4))
            for u, t in extra:
                key = (u.eq.id, t.name)
                last[key] = self._extra_value(t.type, t.min, t.max, last.get(key))
                self.publish(u.eq.id, t.name, last[key])

    # -- behaviour shared by lines and cells -----------------------------------------------------------
    def cycle_s(self, eq: Equipment, model: str, line_id: str) -> float:
        """Nominal time ``eq`` spends on one car of ``model`` (0: it does nothing for that model)."""
        key = (eq.id, model)
        cached = self._cycle_cache.get(key)
        if cached is not None:
            return cached
        m = self._models.get(model)
        g = self.groups.get(line_id)
        peers = [u.eq for u in g.units if u.eq.type in _PROCESSING] if g is not None else [eq]
        total = 0.0
        for step in m.routing if m is not None else []:
            if step.lines is not None and line_id not in step.lines:
                continue

            def does(e: Equipment, step: OperationStep = step) -> bool:
                return step.operation in e.operations and (step.stations is None or e.id in step.stations)

            if does(eq):
                # k stations of one line able to do a step share it (the scheduler assumes the same)
                total += step.cycle_s / max(1, sum(1 for e in peers if does(e)))
        self._cycle_cache[key] = total
        return total

    def _vary(self, nominal: float) -> float:
        cv = self.options.cycle_cv
        if cv <= 0 or nominal <= 0:
            return nominal
        return max(0.5 * nominal, self.rng.gauss(nominal, cv * nominal))

    def process_part(self, u: Unit, part: Part, line_id: str) -> SimGen:
        """Changeover if needed, then the car's cycle on ``u``."""
        yield from self.process_stage(u, part, self.cycle_s(u.eq, part.model, line_id))

    def process_stage(self, u: Unit, part: Part, nominal: float) -> SimGen:
        """Changeover if needed, then ``nominal`` seconds (varied) of work on the car."""
        if nominal <= 0:
            return  # the car passes through
        if u.model and u.model != part.model:
            co = self.plant.changeover_s(u.model, part.model)
            u.set_model(part.model)
            if co > 0:
                yield from u.work(co, StationState.CHANGEOVER)
        u.set_model(part.model)
        ct = self._vary(nominal)
        yield from u.work(ct, StationState.RUNNING)
        u.finish_part(ct)

    def on_complete(self, part: Part) -> None:
        """A finished car left the plant."""
        self.completed[part.model] = self.completed.get(part.model, 0) + 1
        self.last_completion_s = self.env.now

    # -- plans --------------------------------------------------------------------------------------
    def load_plan(
        self,
        assignments: Sequence[PlanAssignment],
        *,
        lines: Iterable[str] | None = None,
        offset_s: float = 0.0,
        repeat: bool | None = None,
    ) -> dict[str, int]:
        """Follow a plan: replace the pending sequences of every resource the plan covers.

        ``lines`` limits the plan to those lines/blocks (a PLC loads only its own); lines it covers that
        get no work are switched off (equipment finishes the car it holds). ``offset_s`` shifts the plan's
        ``start_s`` (e.g. the simulation time at which it was loaded). ``repeat`` sets whether the covered
        lines start their sequence over when done (default: unchanged). Returns cars planned per resource.
        Assignments on a flow line's station ids are taken from its first processing station only (a
        scheduler that plans per station lists each car once per station).
        """
        covered = set(lines) if lines is not None else set(self.groups)
        unknown = sorted(covered - set(self.groups))
        if unknown:
            raise ValidationError(f"unknown line(s) {', '.join(unknown)}")
        per_resource: dict[str, list[Lot]] = {}
        for a in sorted(assignments, key=lambda a: (a.start_s, a.end_s)):
            res = self._resolve(a.resource)
            if res is None:
                raise ValidationError(f"plan assigns {a.model!r} to unknown resource {a.resource!r}")
            if a.model not in self._models:
                raise ValidationError(f"plan assigns unknown model {a.model!r} to {a.resource!r}")
            if a.quantity < 0:
                raise ValidationError(f"negative quantity {a.quantity} for {a.model!r} on {a.resource!r}")
            if self.resource_group[res].id not in covered:
                continue
            per_resource.setdefault(res, []).append(Lot(a.model, a.quantity, a.start_s + offset_s))
        counts: dict[str, int] = {}
        for gid in covered:
            g = self.groups[gid]
            if repeat is not None:
                g.repeat = repeat
            got_work = False
            for r in g.queues:
                lots = per_resource.get(r, [])
                g.set_sequence(r, lots)
                counts[r] = sum(lot.quantity for lot in lots)
                got_work = got_work or counts[r] > 0
            g.set_off(not got_work)
        return counts

    def _resolve(self, resource: str) -> str | None:
        if resource in self.resource_group:
            return resource
        u = self.units.get(resource)
        if u is None or u.group is None:
            return None
        g = u.group
        if isinstance(g, FlowLine):
            return g.id if g.stations and g.stations[0] is u else None
        return None

    def _first_station_filter(self, assignments: Sequence[PlanAssignment]) -> list[PlanAssignment]:
        out = []
        for a in assignments:
            u = self.units.get(a.resource)
            if u is not None and isinstance(u.group, FlowLine) and u.group.stations[0] is not u:
                continue
            out.append(a)
        return out

    def follow(
        self, plan: Plan, *, lines: Iterable[str] | None = None, offset_s: float = 0.0
    ) -> dict[str, int]:
        """:meth:`load_plan` for a :class:`Plan` (station-level duplicates of flow lines dropped)."""
        return self.load_plan(self._first_station_filter(plan.assignments), lines=lines, offset_s=offset_s)

    # -- running ------------------------------------------------------------------------------------
    def advance(self, until: float) -> list[ChangeTuple]:
        """Run the model up to simulation time ``until`` and flush the changes of that slice."""
        if until > self.env.now:
            self.env.run(until=until)
        return self.flush()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Current values per equipment (for tests and the store's direct path)."""
        out: dict[str, dict[str, Any]] = {}
        for eid, u in self.units.items():
            u.integrate()
            out[eid] = {
                "state": u.state.value,
                "model": u.model,
                "part_count": u.part_count,
                "power_kw": u.power_kw,
                "energy_kwh": u.energy_kwh,
                "alarm": u.alarm,
                "cycle_time_s": u.cycle_time_s,
                "level": u.level,
            }
        return out

    def all_values(self) -> list[ChangeTuple]:
        """Every current value as a batch (a re-sync after a restart)."""
        now = self.clock(self.env.now)
        out: list[ChangeTuple] = []
        for eid, vals in self.snapshot().items():
            tags = {t.name for t in self.units[eid].eq.tags()}
            for tag, v in vals.items():
                if tag in tags:
                    out.append((eid, tag, round(v, 4) if tag == "energy_kwh" else v, "good", now))
        return out

    def group_of(self, resource: str) -> str:
        """The line/block id a resource (line, block, cell or station) belongs to."""
        res = self._resolve(resource)
        if res is not None:
            return self.resource_group[res].id
        u = self.units.get(resource)
        if u is not None and u.group is not None:
            return u.group.id
        raise ValidationError(f"unknown resource {resource!r}")


# ------------------------------------------------------------------------------------------------ calendar
def _seconds_of_day(hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return h * 3600 + m * 60


def shift_windows(plant: Plant, origin: float, after: float = 0.0) -> Iterator[tuple[float, float]]:
    """The plant's working windows in simulation seconds (t=0 at UTC epoch ``origin``), in time order,
    without end: overlapping and back-to-back shifts merge; a window that never closes (shifts covering
    the whole day) ends at ``math.inf``. Windows ending at or before ``after`` are skipped. A plant
    without shifts is always open."""
    shifts: list[tuple[int, int]] = []
    for sh in plant.calendar.shifts:
        a, b = _seconds_of_day(sh.start), _seconds_of_day(sh.end)
        shifts.append((a, b if b > a else b + 86400))  # a shift may cross midnight
    if not shifts:
        yield (-math.inf, math.inf)
        return
    shifts.sort()
    day = math.floor(origin / 86400) * 86400 - 86400  # the day before t=0: its night shift may reach in
    cur: list[float] | None = None
    while True:
        for a, b in shifts:
            start, end = day + a - origin, day + b - origin
            if cur is None:
                cur = [start, end]
            elif start <= cur[1]:
                cur[1] = max(cur[1], end)
            else:
                if cur[1] > after:
                    yield (cur[0], cur[1])
                cur = [start, end]
        assert cur is not None
        if cur[1] - cur[0] > 2 * 86400:  # merged over whole days: round the clock
            yield (cur[0], math.inf)
            return
        day += 86400


# ------------------------------------------------------------------------------------------------ plans
def line_capabilities(plant: Plant) -> dict[str, list[str]]:
    """Models each line/block can build completely: model -> line ids in config order."""
    out: dict[str, list[str]] = {}
    line_eq = {line.id: {e.id for e in line.equipment} for line in plant.lines}
    for m in plant.models:
        for line in plant.lines:
            ok = all(
                (step.lines is None or line.id in step.lines)
                and any(e.id in line_eq[line.id] for e in plant.eligible(step))
                for step in m.routing
            )
            if ok:
                out.setdefault(m.id, []).append(line.id)
    return out


def default_plan(plant: Plant, lot: int = 10, horizon_s: float | None = None) -> Plan:
    """A simple plan from demand: each model's demand split evenly over the lines that can build it, in
    lots of ``lot`` cars, lots of different models interleaved round-robin per line. Starts are 0 (release
    as soon as possible); what the simulated plant runs before the scheduler sends a plan."""
    caps = line_capabilities(plant)
    per_line: dict[str, list[tuple[str, int]]] = {}
    for model, qty in plant.demand.items():
        lines = caps.get(model, [])
        if not lines or qty <= 0:
            continue
        share, rest = divmod(qty, len(lines))
        for i, ln in enumerate(lines):
            n = share + (1 if i < rest else 0)
            lots = per_line.setdefault(ln, [])
            while n > 0:
                lots.append((model, min(lot, n)))
                n -= lot
    assignments: list[PlanAssignment] = []
    for ln, lots in per_line.items():
        by_model: dict[str, deque[tuple[str, int]]] = {}
        for m, q in lots:
            by_model.setdefault(m, deque()).append((m, q))
        order: list[tuple[str, int]] = []
        while any(by_model.values()):
            for dq in by_model.values():
                if dq:
                    order.append(dq.popleft())
        for i, (m, q) in enumerate(order):
            assignments.append(
                PlanAssignment(resource=ln, model=m, quantity=q, start_s=0.0, end_s=0.0, lot=f"{ln}-{i}")
            )
    return Plan(
        version=0, reason="default plan from demand", demand=dict(plant.demand), assignments=assignments
    )


# ------------------------------------------------------------------------------------------------ checks
@dataclass
class SeedResult:
    """Outcome of one simulated run of a plan."""

    seed: int
    horizon_s: float
    planned: dict[str, int]
    completed: dict[str, int]
    fulfilment: float
    energy_kwh: float
    kwh_per_vehicle: float | None
    makespan_s: float
    faults: int
    lines: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dict(self.__dict__)


@dataclass
class CheckResult:
    """Per-seed results and their aggregate (means; minimum fulfilment)."""

    per_seed: list[SeedResult]
    aggregate: dict[str, Any]

    @property
    def meets_demand(self) -> bool:
        """True if every seed completed everything the plan asked for."""
        return bool(self.aggregate.get("fulfilment_min", 0.0) >= 1.0 - _EPS)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {"per_seed": [r.to_dict() for r in self.per_seed], "aggregate": self.aggregate}


def _line_stats(sim: FlowSim, horizon_s: float) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for gid, g in sim.groups.items():
        procs = [u for u in g.units if u.eq.type in (EquipmentType.STATION, EquipmentType.CELL)]
        if not procs:
            continue
        n = len(procs)

        def mean(states: tuple[StationState, ...], procs: list[Unit] = procs, n: int = n) -> float:
            return sum(u.time_in[s] for u in procs for s in states) / n

        busy = mean((StationState.RUNNING, StationState.CHANGEOVER))
        out[gid] = {
            "busy_s": round(busy, 3),
            "idle_s": round(mean((StationState.IDLE, StationState.STARVED, StationState.BLOCKED)), 3),
            "off_s": round(mean((StationState.OFF,)), 3),
            "fault_s": round(mean((StationState.FAULT,)), 3),
            "utilisation": round(busy / horizon_s, 4) if horizon_s > 0 else 0.0,
            "energy_kwh": round(sum(u.energy_kwh for u in g.units), 3),
            "completed": float(sum(g.completed.values())),
        }
    return out


def _with_origin(options: SimOptions | None, plan: Plan) -> SimOptions | None:
    """With the calendar on and no origin given, place t=0 at the plan's ``meta["origin"]``."""
    if options is None or not options.calendar or options.calendar_origin is not None:
        return options
    origin = plan.meta.get("origin")
    if isinstance(origin, int | float) and not isinstance(origin, bool):
        return dataclasses.replace(options, calendar_origin=float(origin))
    return options


def simulate_plan(
    plant: Plant, plan: Plan, horizon_s: float, seed: int = 0, options: SimOptions | None = None
) -> SeedResult:
    """Run ``plan`` for ``horizon_s`` virtual seconds with one seed."""
    if horizon_s <= 0:
        raise ValidationError(f"horizon must be > 0 s (got {horizon_s})")
    sim = FlowSim(plant, seed=seed, options=_with_origin(options, plan))
    sim.follow(plan)
    planned: dict[str, int] = {}
    for g in sim.groups.values():
        for m, q in g.planned.items():
            planned[m] = planned.get(m, 0) + q
    sim.env.run(until=horizon_s)
    for u in sim.units.values():
        u.integrate()
    total_planned = sum(planned.values())
    met = sum(min(sim.completed.get(m, 0), q) for m, q in planned.items())
    energy = sum(u.energy_kwh for u in sim.units.values())
    done = sum(sim.completed.values())
    return SeedResult(
        seed=seed,
        horizon_s=horizon_s,
        planned=planned,
        completed=dict(sorted(sim.completed.items())),
        fulfilment=round(met / total_planned, 6) if total_planned else 1.0,
        energy_kwh=round(energy, 3),
        kwh_per_vehicle=round(energy / done, 4) if done else None,
        makespan_s=round(sim.last_completion_s, 3),
        faults=sim.faults,
        lines=_line_stats(sim, horizon_s),
    )


def check_plan(
    plant: Plant,
    plan: Plan,
    horizon_s: float,
    seeds: Sequence[int] = (0, 1, 2),
    options: SimOptions | None = None,
) -> CheckResult:
    """Simulate ``plan`` in virtual time once per seed; deterministic per seed.

    The aggregate holds means over seeds of completed cars per model, energy, kWh per vehicle, makespan and
    per-line busy/idle/off seconds, and the mean and minimum fulfilment ratio (cars completed within the
    horizon, capped per model at what was planned, over cars planned). With ``options.calendar`` the plant
    works only inside its shifts (t=0 at ``options.calendar_origin``, else the plan's ``meta["origin"]``).
    """
    if not seeds:
        raise ValidationError("check_plan needs at least one seed")
    runs = [simulate_plan(plant, plan, horizon_s, s, options) for s in seeds]
    models = sorted({m for r in runs for m in (*r.planned, *r.completed)})
    kwh = [r.kwh_per_vehicle for r in runs if r.kwh_per_vehicle is not None]
    lines: dict[str, dict[str, float]] = {}
    for gid in runs[0].lines:
        keys = runs[0].lines[gid].keys()
        lines[gid] = {k: round(statistics.fmean(r.lines[gid][k] for r in runs), 4) for k in keys}
    agg: dict[str, Any] = {
        "seeds": list(seeds),
        "horizon_s": horizon_s,
        "planned": runs[0].planned,
        "completed_mean": {m: statistics.fmean(r.completed.get(m, 0) for r in runs) for m in models},
        "completed_min": {m: min(r.completed.get(m, 0) for r in runs) for m in models},
        "fulfilment_mean": round(statistics.fmean(r.fulfilment for r in runs), 6),
        "fulfilment_min": min(r.fulfilment for r in runs),
        "energy_kwh_mean": round(statistics.fmean(r.energy_kwh for r in runs), 3),
        "kwh_per_vehicle_mean": round(statistics.fmean(kwh), 4) if kwh else None,
        "makespan_s_mean": round(statistics.fmean(r.makespan_s for r in runs), 3),
        "makespan_s_max": max(r.makespan_s for r in runs),
        "faults_mean": statistics.fmean(r.faults for r in runs),
        "lines": lines,
    }
    return CheckResult(per_seed=runs, aggregate=agg)


def run_realtime(sim_factory: Callable[[simpy.Environment], FlowSim], speed: float, until: float) -> FlowSim:
    """Blocking scaled-real-time run on ``simpy.rt.RealtimeEnvironment`` (scripts; not for asyncio code).

    ``sim_factory`` builds the model on the environment it is given; changes are flushed once per
    simulated second.
    """
    import simpy.rt

    if speed <= 0 or not math.isfinite(speed):
        raise ValidationError(f"speed must be > 0 (got {speed})")
    env = simpy.rt.RealtimeEnvironment(factor=1.0 / speed, strict=False)
    sim = sim_factory(env)
    t = 0.0
    while t < until:
        t = min(until, t + 1.0)
        sim.advance(t)
    return sim
