"""When each resource can work and what it is set up for, from the calendar and the live twin.

A resource's windows are the plant's shift windows minus what its stations' live states block (a fault
until its MTTR has passed, a station switched off by an operator), cut at the re-plan time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from twin.model import Plant, StationState
from twin.schedule.plant.problem import Window
from twin.schedule.plant.resources import plant_resources

__all__ = ["live_models", "subtract", "unavailable_from_status"]


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
