"""A cell block (kind cells): cars visit one cell per *stage* of their routing, carried by the block's AGVs.

A stage is a maximal run of consecutive routing steps one cell can do together: one stage in a block of
universal cells, several in a block of specialised body / paint / assembly cells. An AGV carries the car
in, between cells and out (:attr:`~twin.sim.options.SimOptions.agv_transfer_s` per trip); a cell is
Starved while it waits for a car, Blocked while its finished car waits for the next cell or an AGV. Lots
assigned to a cell id use that cell wherever it is eligible; lots on the block id use whichever eligible
cell is free. Released cars wait in staging (the block's buffer) for their first cell.

Without AGV trips (``agv_transfer_s=0``), no variance and no faults a lot takes exactly what the
scheduler's block model says (fill time + (q - 1) x the slowest stage's cycle over its cells); with them a
cell is also held while its car is carried in, so each stage costs ``agv_transfer_s / cells`` more per car.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from twin.model import Equipment, EquipmentType, LineKind, StationState
from twin.sim.group import Group
from twin.sim.options import Part, SimGen
from twin.sim.unit import Unit

if TYPE_CHECKING:
    from twin.sim.engine import FlowSim

__all__ = ["CellBlock"]


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
