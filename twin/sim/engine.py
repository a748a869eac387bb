"""The flow model's engine: :class:`FlowSim` builds the plant's lines and blocks on a SimPy environment,
runs them, follows plans, keeps the shift calendar and publishes value changes.

The same model runs in two clocks; only the caller differs. In **virtual time**
(:func:`twin.sim.check.check_plan`) it runs a plan over a horizon as fast as the CPU allows. In **scaled
real time** the simulated PLCs advance it in slices paced against the wall clock (:meth:`FlowSim.advance`,
called from their asyncio loop) and publish each slice's changes; a blocking ``simpy.rt`` environment would
freeze the event loop serving OPC UA.

**Shift calendar** (only with :attr:`SimOptions.calendar`, off by default): outside the plant's shift
windows (:func:`shift_windows`, t=0 placed on the UTC clock by :attr:`SimOptions.calendar_origin` or the
plan's ``meta["origin"]``) everything is Off at zero power, no car is released and work pauses.

Changes are published through the ``on_change`` callback as batches of
``(equipment, tag, value, quality, source_ts)`` tuples, coalesced to the latest value per tag per flush.
The ``state`` tag carries the :class:`~twin.model.StationState` name (``"Running"``). With no listener
nothing is published and no ticker runs; the outcome does not depend on whether anybody listens (same
seed, same run).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import simpy

from twin.calendar import working_windows
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
from twin.sim.cellblock import CellBlock
from twin.sim.flowline import FlowLine
from twin.sim.group import Group
from twin.sim.options import EPS as _EPS
from twin.sim.options import PROCESSING as _PROCESSING
from twin.sim.options import ChangeTuple, Lot, OnChange, Part, SimGen, SimOptions
from twin.sim.unit import Unit

__all__ = ["FlowSim", "shift_windows"]


def shift_windows(plant: Plant, origin: float, after: float = 0.0) -> Iterator[tuple[float, float]]:
    """The plant's working windows in simulation seconds (t=0 at UTC epoch ``origin``), in time order,
    without end: overlapping and back-to-back shifts merge (a line working back-to-back shifts runs on); a
    window that never closes (shifts covering the whole day) ends at ``math.inf``. Windows ending at or
    before ``after`` are skipped. A plant without shifts is always open. The engine is
    :func:`twin.calendar.working_windows`."""
    for w in working_windows(plant.calendar.shifts, origin, after=after, join_touching=True):
        yield w.start, w.end


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

    def process_stage(self, u: Unit, part: Part, nominal: float, waited_s: float = 0.0) -> SimGen:
        """Changeover if needed, then ``nominal`` seconds (varied) of work on the car. A flow station sets
        up for the next model while it waits for that model's first car (``waited_s`` since its last car
        left), as a line following a known sequence does: only the rest of the changeover is paid here."""
        if nominal <= 0:
            return  # the car passes through
        if u.model and u.model != part.model:
            co = max(0.0, self.plant.station_changeover_s(u.eq, u.model, part.model) - waited_s)
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
