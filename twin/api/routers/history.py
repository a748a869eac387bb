"""KPIs over days and weeks from the archive (``twin archive``), paged and ready for charts.

``GET /api/v1/kpi/history`` gives OEE, its factors and time in state per station, line and plant for each
shift (the plant's calendar), day, hour or the whole range; ``/throughput`` cars per line and hour against
the plan in force; ``/reliability`` MTBF and MTTR per station; ``/downtime`` the Pareto of Fault, Blocked
and Starved time; ``/energy`` kWh per vehicle and the peak 15-minute demand per day. Every endpoint takes
``since`` / ``until`` (a look-back like ``7d``, an ISO time or epoch seconds) and pages with
``limit`` / ``offset``. The live KPIs over the change stream stay at ``/api/v1/kpi``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from twin.api.deps import ApiContext, Page, get_ctx, page_params, paginate, viewer
from twin.api.errors import ApiError
from twin.archive.kpimodels import DowntimeRow, EnergyRow, KpiHistory, OeeRow, ReliabilityRow, ThroughputRow
from twin.archive.report import kpi_history
from twin.errors import ValidationError

__all__ = ["KpiHistoryPage", "router"]

router = APIRouter(prefix="/api/v1/kpi/history", tags=["kpi history"], dependencies=[Depends(viewer)])


class KpiHistoryPage(BaseModel):
    """One page of OEE rows (period order; plant, then lines, then stations in each period)."""

    plant: str
    by: str
    start: float
    end: float
    items: list[OeeRow]
    total: int
    limit: int
    offset: int
    next_offset: int | None = None
    skipped_files: int = 0


async def _range(
    since: str = Query("7d", max_length=40, description="start: 7d / 12h / 30m, an ISO time or epoch s"),
    until: str | None = Query(None, max_length=40, description="end (default now), same forms"),
    ctx: ApiContext = Depends(get_ctx),
) -> tuple[float, float]:
    from twin.archive.periods import time_range

    try:
        return time_range(since, until, ctx.clock())
    except ValidationError as exc:
        raise ApiError(422, str(exc), field="since") from None


def _report(ctx: ApiContext, rng: tuple[float, float], section: str, **kw: Any) -> KpiHistory:
    if ctx.archive is None:
        raise ApiError(503, "no history archive: serve the API with --data-dir (the `twin archive` data)")
    return kpi_history(ctx.archive, kw.pop("by", "range"), *rng, sections=(section,), **kw)


@router.get("", response_model=KpiHistoryPage, summary="OEE per shift, day or hour from the archive")
def oee_history(
    by: Literal["shift", "day", "hour", "range"] = Query("shift", description="how periods are formed"),
    shift: str | None = Query(None, max_length=60, description="only this shift (by=shift)"),
    line: str | None = Query(None, max_length=60, description="only this line and its stations"),
    station: str | None = Query(None, max_length=60, description="only this station"),
    scope: Literal["station", "line", "plant"] | None = Query(None, description="only rows of this scope"),
    rng: tuple[float, float] = Depends(_range),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> KpiHistoryPage:
    """Availability, performance, quality, OEE, vehicles, energy and time in state per period and scope."""
    rep = _report(ctx, rng, "oee", by=by, shift=shift, line=line, station=station)
    rows = [r for r in rep.oee if scope is None or r.scope == scope]
    p = paginate(rows, *page)
    return KpiHistoryPage(
        plant=rep.plant,
        by=by,
        start=rep.start,
        end=rep.end,
        items=p.items,
        total=p.total,
        limit=p.limit,
        offset=p.offset,
        next_offset=p.next_offset,
        skipped_files=rep.skipped_files,
    )


@router.get("/throughput", response_model=Page[ThroughputRow], summary="Cars per line and hour vs the plan")
def throughput_history(
    line: str | None = Query(None, max_length=60),
    rng: tuple[float, float] = Depends(_range),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[ThroughputRow]:
    """Per hour and line: cars finished (``actual``) and the plan's ``target`` (the plan in force then)."""
    return paginate(_report(ctx, rng, "throughput", line=line).throughput, *page)


@router.get("/reliability", response_model=Page[ReliabilityRow], summary="MTBF and MTTR per station")
def reliability_history(
    line: str | None = Query(None, max_length=60),
    station: str | None = Query(None, max_length=60),
    rng: tuple[float, float] = Depends(_range),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[ReliabilityRow]:
    """Failures, operating and Fault time, MTBF and MTTR of each station over the range."""
    return paginate(_report(ctx, rng, "reliability", line=line, station=station).reliability, *page)


@router.get("/downtime", response_model=Page[DowntimeRow], summary="Downtime Pareto")
def downtime_history(
    line: str | None = Query(None, max_length=60),
    station: str | None = Query(None, max_length=60),
    rng: tuple[float, float] = Depends(_range),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[DowntimeRow]:
    """Fault, Blocked and Starved seconds by station, largest first, with shares for a Pareto chart."""
    return paginate(_report(ctx, rng, "downtime", line=line, station=station).downtime, *page)


@router.get("/energy", response_model=Page[EnergyRow], summary="Energy per vehicle and peak demand per day")
def energy_history(
    line: str | None = Query(None, max_length=60),
    rng: tuple[float, float] = Depends(_range),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[EnergyRow]:
    """Per day: kWh and kWh per vehicle of each line and the plant, the plant's peak 15-minute kW."""
    return paginate(_report(ctx, rng, "energy", line=line).energy, *page)
