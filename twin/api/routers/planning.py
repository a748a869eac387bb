"""What a plan is drawn against, for any viewer: the shift calendar, the product models, the resources.

The console's Gantt needs the shift windows (to shade them), the resources a plan assigns lots to (its
rows, with their line's name and kind) and the models (legend names). They come from the loaded plant:
shifts through :func:`twin.calendar.working_windows` (back-to-back shifts kept apart, as the scheduler
sees them), resources through :func:`twin.schedule.plant.resources.plant_resources`.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from twin.api.deps import ApiContext, get_ctx, viewer
from twin.api.errors import ApiError
from twin.calendar import working_windows
from twin.schedule.plant.resources import plant_resources

__all__ = ["CalendarOut", "ModelOut", "ResourceOut", "ShiftOut", "WindowOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["planning"], dependencies=[Depends(viewer)])

#: The longest range one calendar request may cover.
MAX_CALENDAR_S = 31 * 86400


class ShiftOut(BaseModel):
    """A daily shift as the plant file gives it (UTC clock times)."""

    name: str
    start: str
    end: str


class WindowOut(BaseModel):
    """One working window in epoch seconds (clipped to the requested range)."""

    shift: str
    start: float
    end: float


class CalendarOut(BaseModel):
    """The plant's shifts and its working windows in ``[start, end)``."""

    start: float
    end: float
    horizon_hours: float
    time_scale: float = Field(description="plant seconds per wall-clock second of the live data (1: real)")
    shifts: list[ShiftOut]
    windows: list[WindowOut]


class ModelOut(BaseModel):
    """A product model: id, display name, the lines its routing may use."""

    id: str
    name: str | None = None
    lines: list[str]


class ResourceOut(BaseModel):
    """A scheduling resource (a Gantt row): a flow line, one cell, or a block of specialised cells."""

    id: str
    kind: str
    line: str
    line_name: str | None = None
    line_kind: str
    equipment: list[str]


@router.get("/calendar", response_model=CalendarOut, summary="Shift calendar")
def calendar(
    start: float | None = Query(None, ge=0, le=1e11, description="from (epoch s; default: now - 1 day)"),
    end: float | None = Query(None, ge=0, le=1e11, description="to (epoch s; default: start + 3 days)"),
    ctx: ApiContext = Depends(get_ctx),
) -> CalendarOut:
    """The plant's working windows between ``start`` and ``end`` (at most 31 days)."""
    t0 = start if start is not None else ctx.clock() - 86400
    t1 = end if end is not None else t0 + 3 * 86400
    if t1 <= t0:
        raise ApiError(422, "end must be after start", field="end")
    if t1 - t0 > MAX_CALENDAR_S:
        raise ApiError(422, f"at most {MAX_CALENDAR_S // 86400} days per request", field="end")
    cal = ctx.store.plant().calendar
    windows: list[WindowOut] = []
    for w in working_windows(cal.shifts, t0, join_touching=False):
        if w.start >= t1 - t0:
            break
        a, b = max(w.start, 0.0), min(w.end, t1 - t0)
        if b > a:
            windows.append(WindowOut(shift=w.shift, start=t0 + a, end=t0 + b))
        if math.isinf(w.end):
            break
    return CalendarOut(
        start=t0,
        end=t1,
        horizon_hours=cal.horizon_hours,
        time_scale=ctx.store.time_scale(),
        shifts=[ShiftOut(name=s.name, start=s.start, end=s.end) for s in cal.shifts],
        windows=windows,
    )


@router.get("/models", response_model=list[ModelOut], summary="Product models")
def models(ctx: ApiContext = Depends(get_ctx)) -> list[ModelOut]:
    """The plant's product models in the plant file's order."""
    plant = ctx.store.plant()
    all_lines = [line.id for line in plant.lines]
    out = []
    for m in plant.models:
        allowed = [set(s.lines) if s.lines else set(all_lines) for s in m.routing]
        lines = set.intersection(*allowed) if allowed else set()
        out.append(ModelOut(id=m.id, name=m.name, lines=[x for x in all_lines if x in lines]))
    return out


@router.get("/resources", response_model=list[ResourceOut], summary="Scheduling resources")
def resources(ctx: ApiContext = Depends(get_ctx)) -> list[ResourceOut]:
    """The resources plans assign lots to, in the plant file's order."""
    plant = ctx.store.plant()
    lines = plant.line_by_id()
    return [
        ResourceOut(
            id=rid,
            kind=kind,
            line=line,
            line_name=lines[line].name,
            line_kind=lines[line].kind.value,
            equipment=list(eqs),
        )
        for rid, kind, line, eqs in plant_resources(plant)
    ]
