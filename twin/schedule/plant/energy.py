"""What a plan costs in energy, as a utility bills it: its power profile per 15 minutes, peaks, kWh per
vehicle, energy cost under the tariff, demand charge and CO2. Pure functions over a plan and its plant.

Two views of a plan's power, both from the scheduler's abstraction (:mod:`twin.schedule.plant.problem`):

- **instantaneous** (what a power cap bounds): every resource building draws its stations' rated kW, every
  other powered resource its idle kW;
- **metered** (what the utility's 15-minute meter sees): a powered resource draws its idle kW, and each lot
  adds its processing energy (``(rated - idle) x busy time`` of its stations) spread evenly over the lot.
  The 15-minute intervals are the clock's quarter-hours (a plan's times are seconds from its origin).

The demand charge is the plant's rate times the plan's highest 15-minute average (what the month's bill
charges if this plan sets the month's peak). With a power cap in the plan's ``meta["energy"]``, the peaks
are also given from ``cap_from_s`` on: the time after which the work the re-plan could not move (frozen lots
in progress) no longer exceeds the cap.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twin.model import Plan, Plant
from twin.schedule.plant.problem import shift_windows
from twin.schedule.plant.resources import plant_modes, plant_resources
from twin.tariff import tariff_clock

__all__ = [
    "DELTA_KEYS",
    "SLOT_S",
    "Piece",
    "Slot",
    "energy_delta",
    "energy_kpis",
    "energy_profile",
    "instantaneous_peak_kw",
    "metered_pieces",
    "plan_cap",
    "plan_clock",
    "powered_intervals",
    "resource_power",
]

#: The utility's metering interval (seconds).
SLOT_S = 900


@dataclass(frozen=True)
class Piece:
    """Constant power ``kw`` drawn over ``[start, end)`` (seconds from the plan's origin)."""

    start: float
    end: float
    kw: float


@dataclass(frozen=True)
class Slot:
    """One metering interval of a plan's profile: its energy, average power and tariff period."""

    start_s: float
    end_s: float
    kwh: float
    kw: float  # kWh / 0.25 h: the 15-minute average the meter records
    period: str | None
    price_per_kwh: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "kwh": round(self.kwh, 3),
            "kw": round(self.kw, 2),
            "period": self.period,
            "price_per_kwh": self.price_per_kwh,
        }


def plan_clock(plant: Plant, plan: Plan) -> tuple[float, float]:
    """A plan's origin (epoch seconds of t=0) and horizon end (seconds), covering every lot."""
    o = plan.meta.get("origin")
    origin = float(o) if isinstance(o, int | float) else (plan.created_at or time.time())
    h = plan.meta.get("horizon_s")
    horizon = float(h) if isinstance(h, int | float) else plant.calendar.horizon_hours * 3600
    return origin, max([horizon, *(a.end_s for a in plan.assignments)])


def resource_power(plant: Plant) -> dict[str, tuple[float, float]]:
    """``(rated kW, idle kW)`` of every scheduling resource (its processing stations summed)."""
    eqs = plant.equipment_by_id()
    return {
        rid: (sum(eqs[s].power_kw for s in st), sum(eqs[s].idle_power_kw for s in st))
        for rid, _k, _l, st in plant_resources(plant)
    }


def powered_intervals(plant: Plant, plan: Plan) -> dict[str, list[tuple[float, float]]]:
    """Per resource, the merged intervals it is powered: its ``meta.powered`` windows (else the shift
    windows that hold its lots) and its lots themselves."""
    raw = plan.meta.get("powered")
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    if isinstance(raw, list):
        for r, a, b in raw:
            spans[str(r)].append((float(a), float(b)))
    else:
        origin, horizon = plan_clock(plant, plan)
        wins = shift_windows(plant, origin, math.ceil(horizon))
        for x in plan.assignments:
            spans[x.resource] += [(w.start, w.end) for w in wins if x.start_s < w.end and x.end_s > w.start]
    for x in plan.assignments:
        spans[x.resource].append((x.start_s, x.end_s))
    return {rid: _merge(iv) for rid, iv in spans.items()}


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b > a:
            out.append((a, b))
    return out


def metered_pieces(plant: Plant, plan: Plan) -> list[Piece]:
    """The plan's metered power as pieces: idle kW of every powered interval, each lot's processing
    energy spread over the lot."""
    power = resource_power(plant)
    modes = plant_modes(plant)
    pieces: list[Piece] = []
    for rid, spans in powered_intervals(plant, plan).items():
        idle = power.get(rid, (0.0, 0.0))[1]
        pieces += [Piece(a, b, idle) for a, b in spans if idle > 0]
    for x in plan.assignments:
        mode = modes.get(x.model, {}).get(x.resource)
        if mode is not None and x.end_s > x.start_s:
            pieces.append(
                Piece(x.start_s, x.end_s, mode.extra_kwh(x.quantity) * 3600.0 / (x.end_s - x.start_s))
            )
    return pieces


def instantaneous_peak_kw(plant: Plant, plan: Plan, since_s: float = 0.0) -> float:
    """The highest instantaneous power at or after ``since_s``: rated kW of the resources building, idle kW
    of the other powered ones (what a power cap bounds)."""
    power = resource_power(plant)
    powered = powered_intervals(plant, plan)
    points = {
        since_s,
        *(x.start_s for x in plan.assignments),
        *(a for iv in powered.values() for a, _b in iv),
    }
    peak = 0.0
    for t in sorted(p for p in points if p >= since_s):
        building = {x.resource for x in plan.assignments if x.start_s <= t < x.end_s}
        kw = sum(power.get(r, (0.0, 0.0))[0] for r in building)
        for rid, spans in powered.items():
            if rid not in building and any(a <= t < b for a, b in spans):
                kw += power.get(rid, (0.0, 0.0))[1]
        peak = max(peak, kw)
    return peak


def _slot_bounds(origin: float, horizon: float, slot_s: int) -> list[float]:
    """Metering boundaries from 0 to ``horizon``, on the clock's multiples of ``slot_s``."""
    first = slot_s - origin % slot_s
    bounds = [0.0]
    t = first if first < slot_s else float(slot_s)
    while t < horizon:
        bounds.append(t)
        t += slot_s
    bounds.append(horizon)
    return bounds


def energy_profile(
    plant: Plant, plan: Plan, *, slot_s: int = SLOT_S, pieces: Sequence[Piece] | None = None
) -> list[Slot]:
    """The plan's metered profile: energy and average kW per clock quarter-hour (``slot_s``), with the
    tariff period and price of each (None without a tariff)."""
    origin, horizon = plan_clock(plant, plan)
    bounds = _slot_bounds(origin, horizon, slot_s)
    kwh = [0.0] * (len(bounds) - 1)
    first = bounds[1] if len(bounds) > 1 else float(slot_s)
    for p in pieces if pieces is not None else metered_pieces(plant, plan):
        k = 0 if p.start < first else 1 + int((p.start - first) // slot_s)
        while k < len(kwh) and bounds[k] < p.end:
            overlap = min(p.end, bounds[k + 1]) - max(p.start, bounds[k])
            if overlap > 0:
                kwh[k] += p.kw * overlap / 3600.0
            k += 1
    clock = tariff_clock(plant.energy, origin)
    out: list[Slot] = []
    for k, e in enumerate(kwh):
        period = clock.period_at(bounds[k]) if clock is not None else None
        out.append(
            Slot(
                bounds[k],
                bounds[k + 1],
                e,
                e * 3600.0 / slot_s,
                period.name if period else None,
                period.price_per_kwh if period else None,
            )
        )
    return out


def _by_period(profile: Sequence[Slot]) -> tuple[dict[str, float], dict[str, float]]:
    kwh: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    for s in profile:
        if s.period is not None and s.price_per_kwh is not None:
            kwh[s.period] += s.kwh
            cost[s.period] += s.kwh * s.price_per_kwh
    return {k: round(v, 2) for k, v in sorted(kwh.items())}, {k: round(v, 1) for k, v in sorted(cost.items())}


def plan_cap(plan: Plan) -> tuple[float | None, float]:
    """The power cap a plan was made under and from when it holds (its ``meta["energy"]``)."""
    settings = plan.meta.get("energy")
    settings = settings if isinstance(settings, Mapping) else {}
    cap = settings.get("power_cap_kw")
    since = settings.get("cap_from_s")
    return (float(cap) if isinstance(cap, int | float) else None), (
        float(since) if isinstance(since, int | float) else 0.0
    )


def energy_kpis(plant: Plant, plan: Plan, *, since_s: float | None = None) -> dict[str, Any]:
    """A plan's energy KPIs (what ``twin plan show`` prints under *energy*).

    ``kwh``, ``kwh_per_vehicle``, ``peak_kw`` (instantaneous) and ``peak_kw_15min`` (metered) over the
    whole plan; ``cost`` under the tariff, ``kwh_by_period`` / ``cost_by_period``, ``demand_charge`` and
    ``co2_kg`` (None where the plant file gives no rate); with a cap (``cap_kw``) the peaks from
    ``cap_from_s`` on. ``since_s`` overrides ``cap_from_s`` (to compare two plans over the same time).
    """
    settings = plant.energy
    pieces = metered_pieces(plant, plan)
    profile = energy_profile(plant, plan, pieces=pieces)
    kwh = sum(s.kwh for s in profile)
    cars = sum(a.quantity for a in plan.assignments)
    peak15 = max((s.kw for s in profile), default=0.0)
    cap, cap_from = plan_cap(plan)
    since = cap_from if since_s is None else since_s
    kwh_period, cost_period = _by_period(profile)
    priced = bool(cost_period)
    out: dict[str, Any] = {
        "kwh": round(kwh, 2),
        "kwh_per_vehicle": round(kwh / cars, 3) if cars else None,
        "peak_kw": round(instantaneous_peak_kw(plant, plan), 1),
        "peak_kw_15min": round(peak15, 1),
        "cost": round(sum(cost_period.values()), 1) if priced else None,
        "currency": settings.currency if settings is not None else None,
        "kwh_by_period": kwh_period,
        "cost_by_period": cost_period,
        "demand_charge": round(peak15 * settings.demand_charge_per_kw, 1) if settings else None,
        "co2_kg": round(kwh * settings.co2_kg_per_kwh, 1) if settings else None,
        "cap_kw": cap,
        "since_s": since,
        "peak_kw_since": round(instantaneous_peak_kw(plant, plan, since), 1),
        "peak_kw_15min_since": round(max((s.kw for s in profile if s.start_s >= since), default=0.0), 1),
    }
    return out


#: The energy KPIs a plan diff compares.
DELTA_KEYS = ("kwh", "kwh_per_vehicle", "peak_kw", "peak_kw_15min", "cost", "demand_charge", "co2_kg")


def energy_delta(a: Any, b: Any) -> dict[str, dict[str, float]]:
    """``{key: {from, to, delta}}`` of two plans' energy KPIs (keys both have as numbers)."""
    out: dict[str, dict[str, float]] = {}
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return out
    for key in DELTA_KEYS:
        va, vb = a.get(key), b.get(key)
        if isinstance(va, int | float) and isinstance(vb, int | float):
            out[key] = {"from": va, "to": vb, "delta": round(vb - va, 3)}
    return out
