"""KPIs (throughput, utilisation, OEE, energy per vehicle) per station, line and plant over a window."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from twin.api.deps import ApiContext, get_ctx, known_equipment, known_line, viewer
from twin.api.errors import ApiError
from twin.kpi import Kpi, KpiReport, compute_kpis
from twin.store.streamids import FIRST_ID, exclusive, id_at

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/kpi", tags=["kpi"], dependencies=[Depends(viewer)])


async def _window(
    window_s: float = Query(3600.0, gt=0, le=7 * 86400, description="window length ending at `end`"),
    end: float | None = Query(None, ge=1, le=1e11, description="window end (epoch s; default now)"),
    start: float | None = Query(None, ge=0, le=1e11, description="window start (overrides window_s)"),
    ctx: ApiContext = Depends(get_ctx),
) -> tuple[float, float]:
    t_end = end if end is not None else ctx.clock()
    t_start = start if start is not None else t_end - window_s
    if t_start >= t_end:
        raise ApiError(422, "the window must end after it starts", field="start")
    return t_start, t_end


def report(ctx: ApiContext, start: float, end: float) -> KpiReport:
    """KPIs of everything over ``[start, end)`` from the change stream (bounded reads, see ApiSettings).

    The time base is the PLC source timestamp; entries are selected by their Redis write time with a margin
    of ``kpi_clock_skew_s`` on both sides, so values written a little after they were sampled still count.
    """
    s = ctx.settings
    lo = id_at(start - s.kpi_clock_skew_s)
    entries = ctx.store.change_range(lo, id_at(end + s.kpi_clock_skew_s, end=True), count=s.kpi_max_entries)
    seed = []
    if s.kpi_seed_entries and lo != FIRST_ID:  # nothing can precede 0-0 (and "(0-0" is not a valid end)
        seed = ctx.store.change_range_rev(exclusive(lo), "-", count=s.kpi_seed_entries)
    return compute_kpis(
        ctx.store.plant(), (c for _i, _s, c in entries), start, end, seed=(c for _i, _s, c in reversed(seed))
    )


@router.get("", response_model=KpiReport, summary="KPIs of every station, line and the plant")
def all_kpis(window: tuple[float, float] = Depends(_window), ctx: ApiContext = Depends(get_ctx)) -> KpiReport:
    """Throughput, utilisation, availability, performance, quality, OEE and kWh per vehicle."""
    return report(ctx, *window)


@router.get("/plant", response_model=Kpi, summary="Plant KPIs")
def plant_kpi(window: tuple[float, float] = Depends(_window), ctx: ApiContext = Depends(get_ctx)) -> Kpi:
    """KPIs of the whole plant."""
    return report(ctx, *window).plant


@router.get("/lines/{line}", response_model=Kpi, summary="Line KPIs")
def line_kpi(
    line: str, window: tuple[float, float] = Depends(_window), ctx: ApiContext = Depends(get_ctx)
) -> Kpi:
    """KPIs of one line."""
    known_line(ctx, line)
    return report(ctx, *window).lines[line]


@router.get("/stations/{equipment}", response_model=Kpi, summary="Station KPIs")
def station_kpi(
    equipment: str, window: tuple[float, float] = Depends(_window), ctx: ApiContext = Depends(get_ctx)
) -> Kpi:
    """KPIs of one piece of equipment."""
    known_equipment(ctx, equipment)
    return report(ctx, *window).stations[equipment]
