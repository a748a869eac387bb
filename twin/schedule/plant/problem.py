"""The plant scheduling problem: lots of car models on lines and cells, built from the plant and the twin.

Abstraction (why it is coarse): the re-planner decides *which model is built where, when and in what
order* over the planning horizon; the station-level flow inside a line is the simulator's business
(:mod:`twin.sim`). So the scheduling resources are

- a **flow line** (dedicated or mixed): a lot of ``q`` cars takes the line's *fill time* (the first car
  passes every station) plus ``q - 1`` times the line's bottleneck cycle for that model
  (``duration = sum(cycles) + (q - 1) * max(cycles)``, parallel stations for one operation divide its
  cycle); a model is eligible on a line when every step of its routing has eligible equipment there;
- a **cell** (of a cell block): it builds a car through its whole routing, ``duration = q * sum(cycles)``;
- in a cell block with AGVs a cell is also held while its car is carried in, and each car takes a trip
  in, one between cells and one out: :func:`plant_modes` adds them as the simulation does them.

A lot is built wholly on one resource, inside one available window (a shift minus faults), so lots are
capped to what fits in a shift (:func:`max_lot_sizes`). A resource
switching from model ``a`` to ``b`` waits ``plant.changeover_s(a, b)``; the model a resource is set up for
at ``now`` comes from the current plan or the live ``model`` tag. Energy: a resource powered in a shift
window draws its stations' idle power for the whole window; a lot adds
``sum over stations (rated - idle) * busy time`` on top. Peak power counts rated kW of resources that are
processing at the same time. Lots of one model with the same size are interchangeable; the model breaks
that symmetry by their index.

Everything here is pure data: times are integer seconds from ``origin`` (epoch seconds of the plan's t=0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.calendar import working_windows
from twin.errors import ValidationError
from twin.model import PROCESSING_TYPES, EquipmentType, LineKind, Plan, Plant, StationState
from twin.sim import SimOptions

#: One AGV trip in a cell block, as the plant's flow simulation (the plan check) assumes by default.
DEFAULT_AGV_TRANSFER_S: float = SimOptions.agv_transfer_s

#: Default upper bound of non-frozen lots per model when the lot size is chosen automatically.
AUTO_LOTS_PER_MODEL = 8


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
    """How one model is built on one resource: ``duration(q) = setup_s + q * per_car_s``."""

    resource: str
    setup_s: float
    per_car_s: float
    extra_kwh_per_car: float  # energy above the idle draw, per car

    def duration(self, quantity: int) -> int:
        """Seconds to build a lot of ``quantity`` cars (integer, rounded up)."""
        return math.ceil(self.setup_s + quantity * self.per_car_s - 1e-9)

    def extra_kwh(self, quantity: int) -> float:
        """Energy above idle to build ``quantity`` cars."""
        return self.extra_kwh_per_car * quantity


@dataclass(frozen=True)
class Fixed:
    """A lot that must stay where it is (work in progress, or inside the frozen window)."""

    resource: str
    start: int


@dataclass(frozen=True)
class Lot:
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
    """

    unmet_car: int = 1_000_000
    tardy_min: int = 1_000
    kwh: int = 100
    active_window: int = 500
    changeover_min: int = 10
    moved_min: int = 1
    reassigned: int = 60


@dataclass
class Problem:
    """A complete scheduling problem (see the module docstring for the abstraction)."""

    origin: float
    now: int
    horizon: int
    resources: dict[str, Resource]
    modes: dict[str, dict[str, Mode]]  # model -> resource id -> mode
    changeover: dict[tuple[str, str], int]  # (from, to) -> seconds, for from != to
    lots: list[Lot]
    demand: dict[str, int]
    power_cap_kw: float | None = None
    reference: dict[str, tuple[str, int]] = field(default_factory=dict)  # lot -> (resource, start)
    weights: Weights = field(default_factory=Weights)
    #: What the builder changed from what it was asked for (e.g. a lot size capped to fit a shift).
    notes: list[str] = field(default_factory=list)

    def lot(self, lot_id: str) -> Lot:
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

    def eligible(self, lot: Lot) -> list[str]:
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


def subtract(windows: Sequence[Window], blocked: Iterable[tuple[int, int]]) -> list[Window]:
    """``windows`` minus the blocked intervals."""
    out = list(windows)
    for bs, be in blocked:
        nxt: list[Window] = []
        for w in out:
            if be <= w.start or bs >= w.end:
                nxt.append(w)
                continue
            if bs > w.start:
                nxt.append(Window(w.start, bs, w.shift))
            if be < w.end:
                nxt.append(Window(be, w.end, w.shift))
        out = nxt
    return out


# ----------------------------------------------------------------------------------------------- resources
def _block_is_one_resource(plant: Plant, line_id: str, cells: Sequence[str]) -> bool:
    """A cell block is one resource when some model needs several of its cells (specialised cells)."""
    for m in plant.models:
        per_step = [{e.id for e in plant.eligible(s) if e.id in cells} for s in m.routing]
        if not all(per_step):
            continue  # the block cannot build this model
        if not set.intersection(*per_step):
            return True
    return False


def plant_resources(plant: Plant) -> list[tuple[str, str, str, list[str]]]:
    """Scheduling resources of a plant: ``(id, kind, line, processing equipment)``.

    A flow line is one resource (kind ``line``). A block of universal cells gives one resource per cell
    (kind ``cell``); a block of specialised cells (a car visits several) is one resource (kind ``block``),
    scheduled like a flow line whose stages are the groups of cells a car visits.
    """
    out: list[tuple[str, str, str, list[str]]] = []
    for line in plant.lines:
        proc = [e for e in line.equipment if e.type in PROCESSING_TYPES]
        if not proc:
            continue
        if line.kind == LineKind.CELLS:
            cells = [e.id for e in proc if e.type == EquipmentType.CELL]
            if _block_is_one_resource(plant, line.id, cells):
                out.append((line.id, "block", line.id, cells))
            else:
                out.extend((c, "cell", line.id, [c]) for c in cells)
        else:
            out.append((line.id, "line", line.id, [e.id for e in proc]))
    return out


def _stages(plant: Plant, model_steps: Sequence[tuple[float, list[str]]]) -> list[tuple[float, int, str]]:
    """Group consecutive steps done by the same equipment: ``(seconds per car, parallel units, first)``."""
    stages: list[tuple[float, list[str]]] = []
    for cycle, here in model_steps:
        if stages and stages[-1][1] == here:
            stages[-1] = (stages[-1][0] + cycle, here)
        else:
            stages.append((cycle, here))
    return [(t, len(h), h[0]) for t, h in stages]


def _agv_count(plant: Plant, line_id: str) -> int:
    """AGVs of a line (a cell block's cars are carried by them; none: no travel is simulated)."""
    line = next((ln for ln in plant.lines if ln.id == line_id), None)
    return sum(1 for e in line.equipment if e.type == EquipmentType.AGV) if line is not None else 0


def plant_modes(plant: Plant, agv_transfer_s: float = 0.0) -> dict[str, dict[str, Mode]]:
    """How each model is built on each resource (see the module docstring for the durations).

    ``agv_transfer_s`` is one AGV trip in a cell block that has AGVs (the simulation's
    :attr:`twin.sim.SimOptions.agv_transfer_s`; :func:`build_problem` passes its default). A cell
    is also held while its car is carried in, and a car needs a trip into its first cell, one between
    cells and one out, so with ``A`` the trip and ``t``/``n`` a stage's cycle and cells, a stage takes
    ``(t + A) / n`` per car and the fill time is ``sum(t + A) + A`` (what the simulation does, to the
    second, when AGVs are not the bottleneck). A block's ``k`` AGVs make ``stages + 1`` trips per car, so it
    takes at least ``(stages + 1) x A / k`` per car (the AGVs' own work, which sets the pace when trips are
    long). With a single AGV it also carries the car out before it can bring the next one in: a single cell
    then takes ``t + 2A`` per car. Lots on separate cells of one block that share its AGVs are not bounded
    together (the plan check simulates the AGVs). The default 0 is the block model without travel.
    """
    eqs = plant.equipment_by_id()
    modes: dict[str, dict[str, Mode]] = {}
    for rid, kind, line_id, stations in plant_resources(plant):
        agvs = _agv_count(plant, line_id) if kind in ("cell", "block") else 0
        trip = float(agv_transfer_s) if agvs else 0.0
        for m in plant.models:
            steps: list[tuple[float, list[str]]] = []
            extra_j_per_car = 0.0
            for step in m.routing:
                here = [e.id for e in plant.eligible(step) if e.id in stations]
                if not here:
                    break
                steps.append((step.cycle_s, here))
                # Each car spends cycle_s on one of the units doing this step, at rated power.
                extra_j_per_car += step.cycle_s * (eqs[here[0]].power_kw - eqs[here[0]].idle_power_kw)
            else:
                if kind == "cell" and agvs == 1:
                    # In, build, out with the one AGV, which must be back before the next car comes in.
                    setup, per_car = 0.0, sum(c for c, _ in steps) + 2 * trip
                elif kind == "cell":
                    setup, per_car = trip, sum(c for c, _ in steps) + trip
                else:
                    # Flow: fill time for the first car, then one car per bottleneck stage cycle. In a cell
                    # block each stage also holds its cell while the AGV brings the car in.
                    stages = _stages(plant, steps)
                    stage_times = [(t + trip) / n for t, n, _ in stages]
                    per_car = max(stage_times)
                    if agvs:  # the AGVs' own work: stages + 1 trips per car, shared by the block's AGVs
                        per_car = max(per_car, (len(stages) + 1) * trip / agvs)
                    setup = sum(t + trip for t, _, _ in stages) + trip - per_car
                modes.setdefault(m.id, {})[rid] = Mode(rid, setup, per_car, extra_j_per_car / 3600.0)
    return modes


# ----------------------------------------------------------------------------------------------- status
def unavailable_from_status(
    plant: Plant, status: Sequence[Mapping[str, Any]], now: int, horizon: int, idle_in_plan: set[str]
) -> dict[str, list[tuple[int, int]]]:
    """Blocked intervals per resource from live states.

    A station in ``Fault`` blocks its resource until ``now + mttr_s`` (the whole horizon if it has no MTTR).
    A station ``Off`` blocks it for the horizon, unless the current plan has that resource idle: then the
    plan switched it off and may switch it on again.
    """
    eqs = plant.equipment_by_id()
    station_res: dict[str, str] = {}
    for rid, _kind, _line, stations in plant_resources(plant):
        for s in stations:
            station_res[s] = rid
    out: dict[str, list[tuple[int, int]]] = {}
    for row in status:
        sid = str(row.get("id", ""))
        if sid not in station_res:
            continue
        rid = station_res[sid]
        state = row.get("state")
        if state == StationState.FAULT.value:
            mttr = eqs[sid].mttr_s
            end = horizon if mttr is None else min(horizon, now + math.ceil(mttr))
            out.setdefault(rid, []).append((0, end))
        elif state == StationState.OFF.value and rid not in idle_in_plan:
            out.setdefault(rid, []).append((0, horizon))
    return out


def live_models(plant: Plant, status: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The model each resource is set up for, from the live ``model`` tag of its first station."""
    first: dict[str, str] = {}
    for rid, _kind, _line, stations in plant_resources(plant):
        if stations:
            first[stations[0]] = rid
    out: dict[str, str] = {}
    for row in status:
        rid_or_none = first.get(str(row.get("id", "")))
        model = row.get("model")
        if rid_or_none and isinstance(model, str) and model:
            out[rid_or_none] = model
    return out


# ----------------------------------------------------------------------------------------------- building
def split_lots(quantity: int, lot_size: int) -> list[int]:
    """Split ``quantity`` cars into lots of ``lot_size`` (the last one smaller)."""
    if quantity <= 0:
        return []
    full, rest = divmod(quantity, lot_size)
    return [lot_size] * full + ([rest] if rest else [])


def auto_lot_size(demand: Mapping[str, int], lots_per_model: int = AUTO_LOTS_PER_MODEL) -> int:
    """A lot size that keeps the largest model to about ``lots_per_model`` lots (a multiple of 5)."""
    biggest = max([q for q in demand.values() if q > 0], default=1)
    size = math.ceil(biggest / lots_per_model)
    return max(1, math.ceil(size / 5) * 5) if size > 5 else max(1, size)


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


def max_lot_sizes(
    modes: Mapping[str, Mapping[str, Mode]],
    resources: Mapping[str, Resource],
    changeover: Mapping[tuple[str, str], int],
    window_s: int,
) -> dict[str, tuple[int, str]]:
    """Per model, the most cars a lot may hold, and the resource that sets it: ``(cars, resource)``.

    A lot is built inside one shift window, so it must fit in ``window_s`` (the shortest shift) after the
    longest changeover into its model. Fitting the fastest resource only is not enough: lots too big for
    the slower ones leave those idle while demand goes unmet (measured on the demo plant: the cell block
    38 % busy). So the cap is what fits on the slowest resource that can build the model and has a
    window, among those at least half as fast as the fastest (a very slow one would shrink every lot).
    A model that no resource can build within a shift is left out (not capped: it stays unmet either
    way, and lots of one car would only grow the model).
    """
    out: dict[str, tuple[int, str]] = {}
    for model, per_res in modes.items():
        co = max([s for (_a, b), s in changeover.items() if b == model], default=0)
        fits: list[tuple[int, str]] = []
        for rid, mode in sorted(per_res.items()):
            if not resources[rid].windows or mode.per_car_s <= 0:
                continue
            fit = math.floor((window_s - co - mode.setup_s) / mode.per_car_s + 1e-9)
            while fit > 0 and mode.duration(fit) > window_s - co:  # rounding up of the duration
                fit -= 1
            if fit > 0:
                fits.append((fit, rid))
        if not fits:
            continue
        best = max(f for f, _r in fits)
        out[model] = min((f, r) for f, r in fits if 2 * f >= best)
    return out


def build_problem(
    plant: Plant,
    demand: Mapping[str, int],
    *,
    origin: float,
    now: int = 0,
    horizon_s: int | None = None,
    lot_size: int | None = None,
    status: Sequence[Mapping[str, Any]] = (),
    frozen: Sequence[tuple[str, str, int, str, int]] = (),
    initial_models: Mapping[str, str] | None = None,
    idle_in_plan: set[str] | None = None,
    power_cap_kw: float | None = None,
    due: Mapping[str, int] | None = None,
    weights: Weights | None = None,
    quantities: Mapping[str, Sequence[tuple[str, int]]] | None = None,
    allowed: Mapping[str, Sequence[str]] | None = None,
    agv_transfer_s: float = DEFAULT_AGV_TRANSFER_S,
) -> Problem:
    """Build the scheduling problem.

    ``demand`` is the total per model over the horizon. ``frozen`` lots ``(lot id, model, quantity,
    resource, start)`` stay where they are and count towards demand; the rest of the demand is split into
    new lots of ``lot_size`` cars (automatic if None), released at ``now``. ``status`` rows (as
    ``TwinStore.status()``) give faults, switched-off stations and the model each line is set up for;
    ``initial_models`` (from the current plan) take precedence over the live tag. ``due`` is an optional
    due time per model (seconds from origin); by default every lot is due at the end of the horizon.
    ``quantities`` gives ``(lot id, size)`` of a model's first new lots (a re-plan keeps the old plan's);
    demand beyond them is split by ``lot_size``. ``allowed`` restricts resources to some models (a
    planning policy, e.g. a dedicated line building only its own model). ``agv_transfer_s`` is one AGV
    trip in cell blocks (see :func:`plant_modes`; the simulation's default).

    Lots never exceed what fits in the shortest shift on the model's best resource
    (:func:`max_lot_sizes`): a bigger lot could never be scheduled. A requested ``lot_size`` (or a given
    lot quantity) above that is capped, and ``Problem.notes`` says so.
    """
    known = {m.id for m in plant.models}
    for model, qty in demand.items():
        if model not in known:
            raise ValidationError(f"unknown model {model!r} in demand (known: {', '.join(sorted(known))})")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            raise ValidationError(f"demand for {model!r} must be a whole number >= 0, got {qty!r}")
    horizon = int(horizon_s if horizon_s is not None else plant.calendar.horizon_hours * 3600)
    if not 0 <= now < horizon:
        raise ValidationError(f"re-plan time {now} s is outside the horizon [0, {horizon}) s")
    base_windows = shift_windows(plant, origin, horizon)
    blocked = unavailable_from_status(plant, status, now, horizon, idle_in_plan or set())
    live = live_models(plant, status)
    eqs = plant.equipment_by_id()
    resources: dict[str, Resource] = {}
    for rid, kind, line, stations in plant_resources(plant):
        windows = subtract(base_windows, blocked.get(rid, []))
        # Nothing new starts before now: cut the windows at now (frozen lots are exempt, see model).
        windows = [Window(max(w.start, now), w.end, w.shift) for w in windows if w.end > now]
        init = (initial_models or {}).get(rid) or live.get(rid)
        resources[rid] = Resource(
            id=rid,
            kind=kind,
            line=line,
            stations=tuple(stations),
            run_kw=sum(eqs[s].power_kw for s in stations),
            idle_kw=sum(eqs[s].idle_power_kw for s in stations),
            windows=tuple(windows),
            initial_model=init,
        )
    modes = plant_modes(plant, agv_transfer_s)
    for rid, models_ok in (allowed or {}).items():
        for model in list(modes):
            if rid in modes[model] and model not in models_ok:
                del modes[model][rid]
    changeover: dict[tuple[str, str], int] = {}
    for a in known:
        for b in known:
            if a != b:
                changeover[(a, b)] = math.ceil(plant.changeover_s(a, b))
    lots: list[Lot] = []
    frozen_qty: dict[str, int] = {}
    per_model_index: dict[str, int] = {}
    for lot_id, model, qty, res, start in sorted(frozen, key=lambda f: (f[1], f[4], f[0])):
        if res not in resources or model not in modes or res not in modes[model]:
            raise ValidationError(f"frozen lot {lot_id} of {model} on {res!r} cannot be built there")
        idx = per_model_index.get(model, 0)
        per_model_index[model] = idx + 1
        lots.append(Lot(lot_id, model, qty, idx, release=min(start, now), fixed=Fixed(res, start)))
        frozen_qty[model] = frozen_qty.get(model, 0) + qty
    remaining = {m: max(0, q - frozen_qty.get(m, 0)) for m, q in demand.items()}
    requested = lot_size or auto_lot_size(remaining)
    if requested < 1:
        raise ValidationError(f"lot size must be >= 1, got {requested}")
    shift_s = shortest_shift_s(plant, horizon)
    caps = max_lot_sizes(modes, resources, changeover, shift_s)
    notes: list[str] = []
    used = {lot.id for lot in lots}
    for model in sorted(remaining):
        counter = 0
        cap, where = caps.get(model, (requested, ""))
        size = min(requested, cap)
        given = [(i, q) for i, q in (quantities or {}).get(model, []) if q > 0]
        asked = max([min(requested, remaining[model]), *(q for _i, q in given)])
        if asked > cap:
            how = "" if lot_size else " (automatic)"
            notes.append(
                f"{model}: lot size {asked}{how} capped to {cap} cars: a lot must fit in one "
                f"{shift_s / 3600:g} h shift on each resource that builds it ({cap} on {where})"
            )
        sizes: list[tuple[str | None, int]] = []
        left = remaining[model]
        for given_lot, q in given:
            if left <= 0:
                break
            sizes.append((given_lot if given_lot not in used else None, min(q, left, cap)))
            left -= sizes[-1][1]
        sizes += [(None, q) for q in split_lots(left, size)]
        for given_id, qty in sizes:
            gid: str | None = given_id
            idx = per_model_index.get(model, 0)
            per_model_index[model] = idx + 1
            if gid is None:
                counter = max(counter, idx + 1)
                while f"{model}-{counter:03d}" in used or any(
                    g == f"{model}-{counter:03d}" for g, _ in given
                ):
                    counter += 1
                gid = f"{model}-{counter:03d}"
            lot_id = gid
            used.add(lot_id)
            lots.append(Lot(lot_id, model, qty, idx, release=now, due=(due or {}).get(model)))
    _check_ids_unique(lots)
    return Problem(
        origin=origin,
        now=now,
        horizon=horizon,
        resources=resources,
        modes=modes,
        changeover=changeover,
        lots=lots,
        demand=dict(demand),
        power_cap_kw=power_cap_kw,
        weights=weights or Weights(),
        notes=notes,
    )


def _check_ids_unique(lots: Sequence[Lot]) -> None:
    seen: set[str] = set()
    for lot in lots:
        if lot.id in seen:
            raise ValidationError(f"duplicate lot id {lot.id!r}")
        seen.add(lot.id)


def dedicated_policy(plant: Plant, demand: Mapping[str, int]) -> dict[str, list[str]]:
    """The classic policy: each dedicated line builds only its home model (the eligible one most in demand).

    The re-planner does not use it; it describes how a plant is run when lines are treated as fixed
    (the "before" plan of the demo).
    """
    modes = plant_modes(plant)
    out: dict[str, list[str]] = {}
    for line in plant.lines:
        if line.kind != LineKind.DEDICATED:
            continue
        able = [m for m in modes if line.id in modes[m]]
        if able:
            out[line.id] = [max(able, key=lambda m: (demand.get(m, 0), m))]
    return out


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
