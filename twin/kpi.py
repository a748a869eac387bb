"""Production KPIs from the twin's change history: throughput, utilisation, OEE, energy per vehicle.

Pure functions over decoded changes (the API reads the change stream through the store and hands the
entries in). Definitions, per processing station over a window ``[start, end)``:

- *observed time*: the part of the window whose ``state`` is known (from the last state before the window,
  if the caller seeds it, else from the first state change inside the window);
- *utilisation* = time ``Running`` / observed time;
- *availability* = time ``Running`` / (observed time - time ``Off``) (planned production time);
- *performance* = ideal cycle time x parts / time ``Running`` (capped at 1), the ideal cycle time being the
  nominal time a car of the station's fastest model takes there (:func:`ideal_cycles`);
- *quality* = good parts / parts; the simulated PLCs report no scrap, so it is 1 unless a ``scrap_count``
  tag exists;
- *OEE* = availability x performance x quality;
- *vehicles* = increase of ``part_count`` (counter resets, e.g. a PLC restart, are handled);
- *energy* = increase of ``energy_kwh``; *kWh per vehicle* = energy / vehicles.

A line's vehicles are those leaving its last processing station (flow lines) or its finishing cells
(:func:`finishing_stations`); its
energy is the sum over all its equipment; utilisation, availability, performance and OEE are the means over
its processing equipment with data. The plant sums lines' vehicles and energy and averages the rest.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from twin.changes import Change
from twin.model import PROCESSING_TYPES, LineKind, Plant, StationState

__all__ = [
    "KPI_TAGS",
    "Kpi",
    "KpiReport",
    "collect_series",
    "compute_kpis",
    "counter_increase",
    "ideal_cycles",
    "last_values",
    "state_durations",
    "state_name",
    "station_kpi",
]

_STATES = list(StationState)
_BY_NAME = {s.value.lower(): s.value for s in StationState}

#: ``(equipment, tag) -> [(source_ts, value), ...]`` oldest first.
Series = dict[tuple[str, str], list[tuple[float, Any]]]

KPI_TAGS = frozenset({"state", "part_count", "energy_kwh", "scrap_count"})


class Kpi(BaseModel):
    """KPIs of one station, line or the plant over a window (None where there was no data)."""

    scope: str
    id: str
    start: float
    end: float
    observed_s: float = 0.0
    vehicles: float | None = None
    throughput_per_h: float | None = None
    utilisation: float | None = None
    availability: float | None = None
    performance: float | None = None
    quality: float | None = None
    oee: float | None = None
    energy_kwh: float | None = None
    kwh_per_vehicle: float | None = None
    state_s: dict[str, float] = {}


class KpiReport(BaseModel):
    """KPIs of every station, every line and the plant over one window."""

    start: float
    end: float
    stations: dict[str, Kpi]
    lines: dict[str, Kpi]
    plant: Kpi


def state_name(value: Any) -> str | None:
    """A station state as its name, from the PLC's integer code or a (any-case) name."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(value) and float(value).is_integer():
        i = int(value)
        return _STATES[i].value if 0 <= i < len(_STATES) else None
    if isinstance(value, str):
        return _BY_NAME.get(value.strip().lower(), value)
    return None


def collect_series(entries: Iterable[Sequence[Change]], tags: frozenset[str] = KPI_TAGS) -> Series:
    """Group changes by ``(equipment, tag)``, keeping only ``tags``, each series sorted by time."""
    out: Series = defaultdict(list)
    for changes in entries:
        for c in changes:
            if c.tag in tags and c.quality != "bad":
                out[(c.equipment, c.tag)].append((float(c.source_ts), c.value))
    for pts in out.values():
        pts.sort(key=lambda p: p[0])
    return dict(out)


def last_values(
    entries: Iterable[Sequence[Change]], tags: frozenset[str] = KPI_TAGS
) -> dict[tuple[str, str], Any]:
    """The last value of each ``(equipment, tag)`` among ``entries`` (to seed a window's initial state)."""
    series = collect_series(entries, tags)
    return {k: pts[-1][1] for k, pts in series.items() if pts}


def state_durations(
    points: Sequence[tuple[float, Any]], start: float, end: float, initial: Any = None
) -> dict[str, float]:
    """Seconds in each state within ``[start, end)``; time before the first known state is not counted."""
    out: dict[str, float] = defaultdict(float)
    current = state_name(initial)
    cursor = start
    for ts, value in points:
        if ts <= start:
            current = state_name(value)
            continue
        if ts >= end:
            break
        if current is not None:
            out[current] += ts - cursor
        cursor = ts
        current = state_name(value)
    if current is not None and end > cursor:
        out[current] += end - cursor
    return dict(out)


def counter_increase(points: Sequence[tuple[float, Any]], initial: Any = None) -> float | None:
    """How much a monotonic counter grew; a drop is a reset (the new value counts from zero)."""
    prev = initial if _is_number(initial) else None
    total = 0.0
    seen = prev is not None
    for _ts, value in points:
        if not _is_number(value):
            continue
        seen = True
        if prev is not None:
            delta = float(value) - float(prev)
            total += delta if delta >= 0 else float(value)
        prev = value
    return total if seen else None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def ideal_cycles(plant: Plant) -> dict[str, float]:
    """Ideal cycle time of each processing station: the nominal time one car of its fastest model takes
    there, i.e. the routing steps it runs for that model summed (a cell running body, paint or assembly
    steps does them all per car); a step that k stations of one flow line can run is shared (cycle / k),
    as the flow model and the scheduler share it."""
    out: dict[str, float] = {}
    line_of = {e.id: line for line in plant.lines for e in line.equipment}
    for model in plant.models:
        per_car: dict[str, float] = defaultdict(float)
        for step in model.routing:
            eligible = plant.eligible(step)
            for e in eligible:
                line = line_of[e.id]
                k = 1 if line.kind == LineKind.CELLS else sum(1 for x in eligible if line_of[x.id] is line)
                per_car[e.id] += step.cycle_s / k
        for eid, t in per_car.items():
            out[eid] = min(out.get(eid, math.inf), t)
    return out


def finishing_stations(plant: Plant) -> set[str]:
    """Where cars leave each line: a flow line's last processing station; in a cell block, the cells that
    run the last step of some model's routing there (a car passes several cells; it is counted once)."""
    out: set[str] = set()
    for line in plant.lines:
        procs = [e for e in line.equipment if e.type in PROCESSING_TYPES]
        if line.kind != LineKind.CELLS:
            out.update(e.id for e in procs[-1:])
            continue
        ids = {e.id for e in procs}
        for model in plant.models:
            steps = [s for s in model.routing if s.lines is None or line.id in s.lines]
            for step in reversed(steps):
                cells = [e.id for e in plant.eligible(step) if e.id in ids]
                if cells:
                    out.update(cells)
                    break
    return out


def _ratio(num: float | None, den: float | None, cap: float | None = None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    r = num / den
    return min(r, cap) if cap is not None else r


def station_kpi(
    equipment: str,
    series: Series,
    start: float,
    end: float,
    *,
    ideal_cycle_s: float | None = None,
    initial: dict[tuple[str, str], Any] | None = None,
    scope: str = "station",
) -> Kpi:
    """KPIs of one piece of equipment over ``[start, end)``."""
    init = initial or {}
    states = state_durations(series.get((equipment, "state"), []), start, end, init.get((equipment, "state")))
    observed = sum(states.values())
    running = states.get(StationState.RUNNING.value, 0.0)
    planned = observed - states.get(StationState.OFF.value, 0.0)
    parts = counter_increase(series.get((equipment, "part_count"), []), init.get((equipment, "part_count")))
    energy = counter_increase(series.get((equipment, "energy_kwh"), []), init.get((equipment, "energy_kwh")))
    scrap = counter_increase(series.get((equipment, "scrap_count"), []), init.get((equipment, "scrap_count")))
    availability = _ratio(running, planned) if observed > 0 else None
    performance = _ratio(ideal_cycle_s * parts, running, 1.0) if ideal_cycle_s and parts is not None else None
    quality: float | None = None
    if parts:
        quality = max(0.0, (parts - (scrap or 0.0)) / parts)
    oee = (
        availability * performance * quality
        if availability is not None and performance is not None and quality is not None
        else None
    )
    hours = (end - start) / 3600.0
    return Kpi(
        scope=scope,
        id=equipment,
        start=start,
        end=end,
        observed_s=observed,
        vehicles=parts,
        throughput_per_h=parts / hours if parts is not None and hours > 0 else None,
        utilisation=_ratio(running, observed),
        availability=availability,
        performance=performance,
        quality=quality,
        oee=oee,
        energy_kwh=energy,
        kwh_per_vehicle=_ratio(energy, parts),
        state_s=states,
    )


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _sum(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) if vals else None


def _aggregate(
    scope: str, ident: str, parts: list[Kpi], vehicles: float | None, start: float, end: float
) -> Kpi:
    energy = _sum(k.energy_kwh for k in parts)
    hours = (end - start) / 3600.0
    states: dict[str, float] = defaultdict(float)
    for k in parts:
        for s, d in k.state_s.items():
            states[s] += d
    return Kpi(
        scope=scope,
        id=ident,
        start=start,
        end=end,
        observed_s=max((k.observed_s for k in parts), default=0.0),
        vehicles=vehicles,
        throughput_per_h=vehicles / hours if vehicles is not None and hours > 0 else None,
        utilisation=_mean(k.utilisation for k in parts),
        availability=_mean(k.availability for k in parts),
        performance=_mean(k.performance for k in parts),
        quality=_mean(k.quality for k in parts),
        oee=_mean(k.oee for k in parts),
        energy_kwh=energy,
        kwh_per_vehicle=_ratio(energy, vehicles),
        state_s=dict(states),
    )


def compute_kpis(
    plant: Plant,
    entries: Iterable[Sequence[Change]],
    start: float,
    end: float,
    seed: Iterable[Sequence[Change]] = (),
) -> KpiReport:
    """KPIs of every station, line and the plant over ``[start, end)`` from change batches.

    ``entries`` are the change batches of the window (oldest first); ``seed`` the batches before it, whose
    last values give each series its initial value (state at the window start, counter baselines).
    """
    if end <= start:
        raise ValueError("the KPI window must end after it starts")
    series = collect_series(entries)
    initial = last_values(seed)
    cycles = ideal_cycles(plant)
    stations: dict[str, Kpi] = {}
    for e in plant.equipment():
        stations[e.id] = station_kpi(
            e.id,
            series,
            start,
            end,
            ideal_cycle_s=cycles.get(e.id),
            initial=initial,
            scope="station" if e.type in PROCESSING_TYPES else e.type.value,
        )
    lines: dict[str, Kpi] = {}
    for line in plant.lines:
        procs = [e for e in line.equipment if e.type in PROCESSING_TYPES]
        last = finishing_stations(plant)
        vehicles = _sum(stations[e.id].vehicles for e in procs if e.id in last) if procs else None
        agg = _aggregate("line", line.id, [stations[e.id] for e in procs], vehicles, start, end)
        # energy counts every piece of equipment of the line, not just the processing ones
        agg.energy_kwh = _sum(stations[e.id].energy_kwh for e in line.equipment)
        agg.kwh_per_vehicle = _ratio(agg.energy_kwh, vehicles)
        lines[line.id] = agg
    all_procs = [stations[e.id] for e in plant.equipment() if e.type in PROCESSING_TYPES]
    total_vehicles = _sum(k.vehicles for k in lines.values())
    plant_kpi = _aggregate("plant", plant.id, all_procs, total_vehicles, start, end)
    plant_kpi.energy_kwh = _sum(k.energy_kwh for k in lines.values())
    plant_kpi.kwh_per_vehicle = _ratio(plant_kpi.energy_kwh, total_vehicles)
    return KpiReport(start=start, end=end, stations=stations, lines=lines, plant=plant_kpi)
