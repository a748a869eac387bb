"""Build the plant scheduling problem from the plant, the demand and the live twin.

:func:`build_problem` checks the demand, derives each resource's windows (shifts minus faults, from
``now``), the modes and changeovers, keeps frozen lots and splits the rest of the demand into lots
(:mod:`twin.schedule.plant.lots`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from twin.errors import ValidationError
from twin.model import Plant
from twin.schedule.plant.availability import live_models, subtract, unavailable_from_status
from twin.schedule.plant.capacity import capacity_bound
from twin.schedule.plant.lots import LotNumbering, auto_lot_size, frozen_lots, max_lot_sizes, new_lots
from twin.schedule.plant.problem import (
    Mode,
    PlantLot,
    PlantProblem,
    Resource,
    Weights,
    Window,
    shift_windows,
    shortest_shift_s,
)
from twin.schedule.plant.resources import DEFAULT_AGV_TRANSFER_S, plant_modes, plant_resources

__all__ = ["build_problem"]


def _check_demand(plant: Plant, demand: Mapping[str, int]) -> set[str]:
    """The plant's model ids; raises on an unknown model or a quantity that is not a whole number >= 0."""
    known = {m.id for m in plant.models}
    for model, qty in demand.items():
        if model not in known:
            raise ValidationError(f"unknown model {model!r} in demand (known: {', '.join(sorted(known))})")
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            raise ValidationError(f"demand for {model!r} must be a whole number >= 0, got {qty!r}")
    return known


def _resources(
    plant: Plant,
    origin: float,
    now: int,
    horizon: int,
    status: Sequence[Mapping[str, Any]],
    initial_models: Mapping[str, str] | None,
    idle_in_plan: set[str] | None,
) -> dict[str, Resource]:
    """Every resource with its available windows (from ``now``) and the model it is set up for."""
    base_windows = shift_windows(plant, origin, horizon)
    blocked = unavailable_from_status(plant, status, now, horizon, idle_in_plan or set())
    live = live_models(plant, status)
    eqs = plant.equipment_by_id()
    resources: dict[str, Resource] = {}
    for rid, kind, line, stations in plant_resources(plant):
        windows = subtract(base_windows, blocked.get(rid, []))
        # Nothing new starts before now: cut the windows at now (frozen lots are exempt, see model).
        windows = [Window(max(w.start, now), w.end, w.shift) for w in windows if w.end > now]
        resources[rid] = Resource(
            id=rid,
            kind=kind,
            line=line,
            stations=tuple(stations),
            run_kw=sum(eqs[s].power_kw for s in stations),
            idle_kw=sum(eqs[s].idle_power_kw for s in stations),
            windows=tuple(windows),
            initial_model=(initial_models or {}).get(rid) or live.get(rid),
        )
    return resources


def _modes(
    plant: Plant, agv_transfer_s: float, allowed: Mapping[str, Sequence[str]] | None
) -> dict[str, dict[str, Mode]]:
    """The plant's modes, without those a planning policy (``allowed``: resource -> models) rules out."""
    modes = plant_modes(plant, agv_transfer_s)
    for rid, models_ok in (allowed or {}).items():
        for model in list(modes):
            if rid in modes[model] and model not in models_ok:
                del modes[model][rid]
    return modes


def _changeovers(plant: Plant, known: set[str]) -> dict[tuple[str, str], int]:
    """Changeover seconds between every two different models (rounded up)."""
    changeover: dict[tuple[str, str], int] = {}
    for a in known:
        for b in known:
            if a != b:
                changeover[(a, b)] = math.ceil(plant.changeover_s(a, b))
    return changeover


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
) -> PlantProblem:
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
    trip in cell blocks (see :func:`~twin.schedule.plant.resources.plant_modes`; the simulation's default).

    Lots never exceed what fits in the shortest shift on the model's best resource
    (:func:`~twin.schedule.plant.lots.max_lot_sizes`): a bigger lot could never be scheduled. A requested
    ``lot_size`` (or a given lot quantity) above that is capped, and ``PlantProblem.notes`` says so.
    """
    known = _check_demand(plant, demand)
    horizon = int(horizon_s if horizon_s is not None else plant.calendar.horizon_hours * 3600)
    if not 0 <= now < horizon:
        raise ValidationError(f"re-plan time {now} s is outside the horizon [0, {horizon}) s")
    resources = _resources(plant, origin, now, horizon, status, initial_models, idle_in_plan)
    modes = _modes(plant, agv_transfer_s, allowed)
    changeover = _changeovers(plant, known)
    lots, notes = _lots(
        plant, demand, frozen, resources, modes, changeover, now, horizon, lot_size, quantities, due
    )
    _check_ids_unique(lots)
    problem = PlantProblem(
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
    problem.max_cars = capacity_bound(problem).total
    return problem


def _lots(
    plant: Plant,
    demand: Mapping[str, int],
    frozen: Sequence[tuple[str, str, int, str, int]],
    resources: Mapping[str, Resource],
    modes: Mapping[str, Mapping[str, Mode]],
    changeover: Mapping[tuple[str, str], int],
    now: int,
    horizon: int,
    lot_size: int | None,
    quantities: Mapping[str, Sequence[tuple[str, int]]] | None,
    due: Mapping[str, int] | None,
) -> tuple[list[PlantLot], list[str]]:
    """The frozen lots plus new lots for the rest of the demand, and notes on capped lot sizes."""
    numbering = LotNumbering()
    lots = frozen_lots(frozen, resources, modes, now, numbering)
    frozen_qty: dict[str, int] = {}
    for lot in lots:
        frozen_qty[lot.model] = frozen_qty.get(lot.model, 0) + lot.quantity
    remaining = {m: max(0, q - frozen_qty.get(m, 0)) for m, q in demand.items()}
    requested = lot_size or auto_lot_size(remaining)
    if requested < 1:
        raise ValidationError(f"lot size must be >= 1, got {requested}")
    shift_s = shortest_shift_s(plant, horizon)
    fresh, notes = new_lots(
        remaining,
        requested,
        max_lot_sizes(modes, resources, changeover, shift_s),
        numbering=numbering,
        now=now,
        shift_s=shift_s,
        automatic=not lot_size,
        quantities=quantities,
        due=due,
    )
    return [*lots, *fresh], notes


def _check_ids_unique(lots: Sequence[PlantLot]) -> None:
    seen: set[str] = set()
    for lot in lots:
        if lot.id in seen:
            raise ValidationError(f"duplicate lot id {lot.id!r}")
        seen.add(lot.id)
