"""What is said about a plan: its KPIs, what changed from another plan, its split per line.

KPIs: utilisation, idle resources, fulfilment, makespan, energy per vehicle, peak power, and under
``energy`` what the utility bills (:func:`twin.schedule.plant.energy.energy_kpis`). The diff
(:func:`plan_diff`) is what ``twin plan diff`` prints and the API's ``GET /api/v1/plans/diff`` answers.

KPIs follow the scheduler's abstraction (:mod:`twin.schedule.plant.problem`): a resource draws its idle power
through every shift window it is powered in (the plan's ``meta.powered``, else the windows that hold its
lots) and its lots add their processing energy; peak power counts rated kW of resources that are building
and idle kW of the other powered ones. Times are seconds from the plan's origin.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.model import LineKind, Plan, PlanAssignment, Plant
from twin.schedule.plant.energy import energy_delta, energy_kpis
from twin.schedule.plant.problem import Window, shift_windows
from twin.schedule.plant.resources import plant_modes, plant_resources

__all__ = ["line_sequences", "plan_diff", "plan_kpis"]


def _horizon(plant: Plant, plan: Plan) -> int:
    h = plan.meta.get("horizon_s")
    return int(h) if isinstance(h, int | float) else int(plant.calendar.horizon_hours * 3600)


def _origin(plan: Plan) -> float:
    o = plan.meta.get("origin")
    return float(o) if isinstance(o, int | float) else (plan.created_at or time.time())


def _powered(plan: Plan, wins: Sequence[Window]) -> set[tuple[str, int, int]]:
    """The ``(resource, start, end)`` windows a plan keeps powered: its ``meta.powered``, else the shift
    windows that hold its lots."""
    powered: set[tuple[str, int, int]] = set()
    raw = plan.meta.get("powered")
    if isinstance(raw, list):
        powered = {(str(r), int(a), int(b)) for r, a, b in raw}
    else:
        for a in plan.assignments:
            for w in wins:
                if a.start_s < w.end and a.end_s > w.start:
                    powered.add((a.resource, w.start, w.end))
    return powered


@dataclass
class _Work:
    """A plan's lots summed per resource and model, and their processing energy (kWh)."""

    busy: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cars: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    models: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    planned: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    energy: float = 0.0


def _work(plant: Plant, plan: Plan) -> _Work:
    modes = plant_modes(plant)
    work = _Work()
    for a in plan.assignments:
        work.busy[a.resource] += a.end_s - a.start_s
        work.cars[a.resource] += a.quantity
        work.models[a.resource].add(a.model)
        work.planned[a.model] += a.quantity
        mode = modes.get(a.model, {}).get(a.resource)
        if mode is not None:
            work.energy += mode.extra_kwh(a.quantity)
    return work


def _peak_kw(
    plan: Plan, powered: set[tuple[str, int, int]], run_kw: Mapping[str, float], idle_kw: Mapping[str, float]
) -> float:
    """Peak power: rated kW of the resources building plus idle kW of the other powered ones, swept over
    the breakpoints of lots and powered windows."""
    points = sorted({0, *(int(a.start_s) for a in plan.assignments), *(p[1] for p in powered)})
    peak = 0.0
    for t in points:
        kw = 0.0
        building = {a.resource for a in plan.assignments if a.start_s <= t < a.end_s}
        for rid, a0, b0 in powered:
            if a0 <= t < b0 and rid not in building:
                kw += idle_kw.get(rid, 0.0)
        kw += sum(run_kw.get(r, 0.0) for r in building)
        peak = max(peak, kw)
    return peak


def _per_resource(
    plant: Plant, work: _Work, powered_s: Mapping[str, float], available_s: float
) -> dict[str, dict[str, Any]]:
    """Cars, models, busy, powered and idle hours, utilisation of every resource."""
    per_res: dict[str, dict[str, Any]] = {}
    for rid, kind, line, _st in plant_resources(plant):
        busy, on = work.busy.get(rid, 0.0), powered_s.get(rid, 0.0)
        per_res[rid] = {
            "kind": kind,
            "line": line,
            "cars": work.cars.get(rid, 0),
            "models": sorted(work.models.get(rid, set())),
            "busy_h": round(busy / 3600, 3),
            "powered_h": round(on / 3600, 3),
            "idle_h": round(max(0.0, on - busy) / 3600, 3),
            "utilisation": round(busy / available_s, 4) if available_s else 0.0,
        }
    return per_res


def plan_kpis(plant: Plant, plan: Plan) -> dict[str, Any]:
    """KPIs of a plan (what ``twin plan show`` prints and the bench compares)."""
    wins = shift_windows(plant, _origin(plan), _horizon(plant, plan))
    eqs = plant.equipment_by_id()
    resources = plant_resources(plant)
    run_kw = {rid: sum(eqs[s].power_kw for s in st) for rid, _k, _l, st in resources}
    idle_kw = {rid: sum(eqs[s].idle_power_kw for s in st) for rid, _k, _l, st in resources}
    powered = _powered(plan, wins)
    work = _work(plant, plan)
    energy = work.energy
    powered_s: dict[str, float] = defaultdict(float)
    for rid, a0, b0 in powered:
        powered_s[rid] += b0 - a0
        energy += idle_kw.get(rid, 0.0) * (b0 - a0) / 3600.0
    per_res = _per_resource(plant, work, powered_s, sum(w.length for w in wins))
    planned, demand = work.planned, plan.demand
    total_cars = sum(planned.values())
    wanted = sum(demand.values())
    kinds = {line.id: line.kind for line in plant.lines}
    return {
        "cars": total_cars,
        "unmet": sum(max(0, q - planned.get(m, 0)) for m, q in demand.items()),
        "fulfilment": round(sum(min(q, planned.get(m, 0)) for m, q in demand.items()) / wanted, 4)
        if wanted
        else 1.0,
        "fulfilment_by_model": {
            m: round(min(1.0, planned.get(m, 0) / q), 4) if q else 1.0 for m, q in sorted(demand.items())
        },
        "makespan_s": max((a.end_s for a in plan.assignments), default=0.0),
        "energy_kwh": round(energy, 2),
        "kwh_per_vehicle": round(energy / total_cars, 3) if total_cars else None,
        "peak_kw": round(_peak_kw(plan, powered, run_kw, idle_kw), 1),
        "idle_resources": sorted(rid for rid, v in per_res.items() if v["cars"] == 0),
        "dedicated_idle_h": {
            rid: v["idle_h"] for rid, v in per_res.items() if kinds.get(v["line"]) == LineKind.DEDICATED
        },
        "resources": per_res,
        "energy": energy_kpis(plant, plan),
    }


def _lots_only_in(p: dict[str, PlanAssignment], q: dict[str, PlanAssignment]) -> list[dict[str, Any]]:
    """The lots of ``p`` (by lot id) that ``q`` lacks, in id order."""
    return [
        {
            "lot": k,
            "model": p[k].model,
            "resource": p[k].resource,
            "quantity": p[k].quantity,
            "start": p[k].start_s,
        }
        for k in sorted(set(p) - set(q))
    ]


def plan_diff(a: Plan, b: Plan) -> dict[str, Any]:
    """What changed from plan ``a`` to plan ``b``: lots added, removed, moved in time, moved to another
    resource or resized, the models per resource, and the KPI deltas."""
    la = {x.lot: x for x in a.assignments}
    lb = {x.lot: x for x in b.assignments}
    moved, reassigned, resized = [], [], []
    for lot in sorted(set(la) & set(lb)):
        x, y = la[lot], lb[lot]
        if x.resource != y.resource:
            reassigned.append(
                {
                    "lot": lot,
                    "model": y.model,
                    "from": x.resource,
                    "to": y.resource,
                    "start_from": x.start_s,
                    "start_to": y.start_s,
                }
            )
        elif x.start_s != y.start_s:
            moved.append(
                {
                    "lot": lot,
                    "model": y.model,
                    "resource": y.resource,
                    "start_from": x.start_s,
                    "start_to": y.start_s,
                }
            )
        if x.quantity != y.quantity:
            resized.append({"lot": lot, "model": y.model, "from": x.quantity, "to": y.quantity})
    added, removed = _lots_only_in(lb, la), _lots_only_in(la, lb)
    res_models: dict[str, dict[str, list[str]]] = {}
    for rid in sorted({x.resource for x in a.assignments} | {x.resource for x in b.assignments}):
        before = sorted({x.model for x in a.assignments if x.resource == rid})
        after = sorted({x.model for x in b.assignments if x.resource == rid})
        if before != after:
            res_models[rid] = {"before": before, "after": after}
    kpi_delta: dict[str, Any] = {}
    for key in ("cars", "unmet", "fulfilment", "makespan_s", "energy_kwh", "kwh_per_vehicle", "peak_kw"):
        va, vb = a.kpis.get(key), b.kpis.get(key)
        if isinstance(va, int | float) and isinstance(vb, int | float):
            kpi_delta[key] = {"from": va, "to": vb, "delta": round(vb - va, 4)}
    return {
        "from": a.version,
        "to": b.version,
        "added": added,
        "removed": removed,
        "moved": moved,
        "reassigned": reassigned,
        "resized": resized,
        "models_per_resource": res_models,
        "demand": {
            m: {"from": a.demand.get(m), "to": b.demand.get(m)}
            for m in sorted(set(a.demand) | set(b.demand))
            if a.demand.get(m) != b.demand.get(m)
        },
        "kpis": kpi_delta,
        "energy": energy_delta(a.kpis.get("energy"), b.kpis.get("energy")),
    }


def line_sequences(plan: Plan, plant: Plant) -> dict[str, list[dict[str, Any]]]:
    """The plan split per line/cell block (what each PLC loads), in start order; lines without work get
    an empty sequence (their stations switch off)."""
    res_line = {rid: line for rid, _k, line, _s in plant_resources(plant)}
    out: dict[str, list[dict[str, Any]]] = {
        line.id: [] for line in plant.lines if line.id in res_line.values()
    }
    for a in sorted(plan.assignments, key=lambda x: (x.start_s, x.resource)):
        line = res_line.get(a.resource, a.resource)
        out.setdefault(line, []).append(
            {
                "lot": a.lot,
                "resource": a.resource,
                "model": a.model,
                "quantity": a.quantity,
                "start_s": a.start_s,
                "end_s": a.end_s,
            }
        )
    return out
