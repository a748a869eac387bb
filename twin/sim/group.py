"""What flow lines and cell blocks share: a :class:`Group` of units with its sequences, WIP and on/off
switch, and the :class:`Fifo` place between two flow stations.

A group holds one queue of lots per resource (the line or block id; in a cell block also each cell id),
released no earlier than each lot's ``start_s``. It has *work now* while cars are in progress or a lot may
be released: waiting equipment shows Starved then, else Idle (as with a plan dispatched before its shift).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from twin.errors import ValidationError
from twin.model import LineKind, StationState
from twin.sim.options import EPS as _EPS
from twin.sim.options import Lot, Part
from twin.sim.unit import Unit

if TYPE_CHECKING:
    from twin.sim.engine import FlowSim

__all__ = ["Fifo", "Group"]


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
