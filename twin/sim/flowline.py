"""A flow line (kind dedicated or mixed): its processing stations in config order, a FIFO between two.

Between two stations sits a FIFO of the capacity of the buffer(s) configured between them, else an
implicit hand-over place (:attr:`~twin.sim.options.SimOptions.handover_capacity`, 1 by default). The first
station takes cars from the line's sequence (lots of ``(model, qty)`` released no earlier than the lot's
``start_s``); the last one completes them. A station processes the steps of the car's routing it is
eligible for (sum of their ``cycle_s``; none: the car passes through); several stations of one line able
to do the same step share it (each takes ``cycle_s / k``), as the scheduler assumes. A station is Starved
while waiting for a car, Blocked while the next place is full, in Changeover when the car's model differs
from its set-up model (:meth:`twin.model.Plant.changeover_s`), Running while processing. Conveyors and
AGVs of a flow line mirror the line's activity.

Cost: a station takes or hands over a car without a SimPy event unless it has to wait (:class:`Fifo`),
and a busy station does not pass through Starved between two cars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from twin.model import Equipment, EquipmentType, LineKind, StationState
from twin.sim.group import Fifo, Group
from twin.sim.options import EPS as _EPS
from twin.sim.options import RUNNING as _RUNNING
from twin.sim.options import SimGen
from twin.sim.unit import Unit

if TYPE_CHECKING:
    from twin.sim.engine import FlowSim

__all__ = ["FlowLine"]


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
        freed = env.now  # when this station last handed a car on (it may set up for the next model since)
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
                yield from sim.process_stage(u, part, nominal, env.now - freed)
            if out is None:
                u.set_phase(StationState.STARVED)
                self.complete(part)
                freed = env.now
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
                freed = env.now
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
