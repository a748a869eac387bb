"""Live state of equipment and the history of a tag from the change stream.

History retention: the change stream is capped at ``MAXLEN ~ DEFAULT_STREAM_MAXLEN`` (200 000) *entries*,
one entry per adapter publish batch, so the time it covers is 200 000 / (batches per second).
``GET /api/v1/history/retention`` reports the span held now and the estimate at the current rate.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from twin.api.deps import (
    ApiContext,
    Page,
    get_ctx,
    known_equipment,
    known_line,
    page_params,
    paginate,
    viewer,
)
from twin.api.errors import ApiError
from twin.api.streams import retention
from twin.errors import NotFoundError
from twin.model import EquipmentType, Quality
from twin.store.streamids import ID_PATTERN, exclusive, id_at, id_ms, parse_id

__all__ = ["EquipmentState", "History", "HistoryPoint", "Retention", "TagOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["state"], dependencies=[Depends(viewer)])


class TagOut(BaseModel):
    """A live value."""

    value: Any = None
    quality: str
    source_ts: float


class EquipmentState(BaseModel):
    """One piece of equipment with every live tag."""

    id: str
    type: str
    line: str
    name: str | None = None
    state: Any = None
    quality: str
    tags: dict[str, TagOut]


class HistoryPoint(BaseModel):
    """One recorded value of a tag."""

    id: str
    ts: float
    tag: str
    value: Any = None
    quality: str


class History(BaseModel):
    """Recorded values of one equipment's tag(s) in a time range, oldest first."""

    equipment: str
    tag: str | None
    start: float
    end: float
    points: list[HistoryPoint]
    scanned_entries: int
    next_after: str | None = None
    oldest_available_ts: float | None = None
    #: True when the stream holds nothing before ``oldest_available_ts`` and that is after ``start``.
    truncated_by_retention: bool = False
    #: ``stream`` (the capped change stream) or ``archive`` (the Parquet archive, for ranges beyond it).
    source: Literal["stream", "archive"] = "stream"


class Retention(BaseModel):
    """How much history the capped change stream holds."""

    maxlen: int
    length: int
    first_id: str | None
    last_id: str | None
    first_ts: float | None
    last_ts: float | None
    span_s: float
    entries_per_s: float
    changes_per_s: float
    estimated_retention_s: float | None


@router.get("/stations", response_model=Page[dict[str, Any]], summary="Live state of all equipment")
def stations(
    line: str | None = Query(None, description="only this line"),
    type: EquipmentType | None = Query(None, description="only this equipment type"),
    quality: Quality | None = Query(None, description="only equipment whose worst quality is this"),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[dict[str, Any]]:
    """The ``twin status --json`` rows: id, type, line, state, quality, updated and live values."""
    known_line(ctx, line)
    rows = ctx.store.status(line)
    if type is not None:
        rows = [r for r in rows if r["type"] == type.value]
    if quality is not None:
        rows = [r for r in rows if r["quality"] == quality.value]
    return paginate(rows, *page)


@router.get("/stations/{equipment}", response_model=EquipmentState, summary="Live state of one equipment")
def station(equipment: str, ctx: ApiContext = Depends(get_ctx)) -> EquipmentState:
    """Every live tag of one station, cell, buffer, conveyor or AGV, with quality and source time."""
    eq = ctx.store.plant().equipment_by_id().get(equipment)
    if eq is None:
        raise NotFoundError(f"unknown equipment {equipment!r}")
    tags = ctx.store.read_tags(equipment)
    order = {"good": 0, "uncertain": 1, "stale": 2, "bad": 3}
    worst = max((q for _v, q, _t in tags.values()), key=lambda q: order.get(q, 3), default="stale")
    return EquipmentState(
        id=eq.id,
        type=eq.type.value,
        line=eq.line,
        name=eq.name,
        state=tags["state"][0] if "state" in tags else None,
        quality=worst,
        tags={t: TagOut(value=v, quality=q, source_ts=ts) for t, (v, q, ts) in sorted(tags.items())},
    )


@router.get("/history/retention", response_model=Retention, summary="History retention of the change stream")
def history_retention(ctx: ApiContext = Depends(get_ctx)) -> Retention:
    """Stream cap, the span it holds now, the write rate and the retention that rate gives."""
    return Retention(**retention(ctx.store, ctx.clock()))


@router.get("/history", response_model=History, summary="History of a tag")
def history(
    equipment: str = Query(..., description="equipment id"),
    tag: str | None = Query(None, description="tag name (default: every tag of the equipment)"),
    start: float | None = Query(None, ge=0, le=1e11, description="from (epoch seconds; default: end - 1 h)"),
    end: float | None = Query(None, ge=0, le=1e11, description="to (epoch seconds; default: now)"),
    after: str | None = Query(
        None, pattern=ID_PATTERN, description="continue after this stream id (from next_after)"
    ),
    limit: int = Query(1000, ge=1, le=10_000, description="points per page (whole batches are kept)"),
    ctx: ApiContext = Depends(get_ctx),
) -> History:
    """Values of a tag over a time range: from the change stream, or from the archive when the range
    starts before the stream's oldest entry and the API has one (``source`` says which)."""
    eq = known_equipment(ctx, equipment)
    if tag is not None and tag not in {t.name for t in eq.tags()}:
        raise ApiError(404, f"{equipment} has no tag {tag!r}", field="tag")
    t_end = end if end is not None else ctx.clock()
    t_start = start if start is not None else t_end - 3600.0
    if t_start > t_end:
        raise ApiError(422, "start must not be after end", field="start")
    if ctx.archive is not None and _before_stream(ctx, t_start):
        page = ctx.archive.history(equipment, tag, t_start, t_end, after=after, limit=limit)
        return History(
            equipment=equipment,
            tag=tag,
            start=t_start,
            end=t_end,
            scanned_entries=0,
            source="archive",
            points=[
                HistoryPoint(id=r.id, ts=r.ts, tag=r.tag, value=r.value, quality=r.quality) for r in page.rows
            ],
            next_after=page.next_after,
        )
    cursor = id_at(t_start)
    inclusive = True
    if after is not None and parse_id(after) >= parse_id(cursor):
        cursor, inclusive = after, False
    stop = id_at(t_end, end=True)
    points: list[HistoryPoint] = []
    scanned = 0
    last_id: str | None = None
    more = False
    budget = ctx.settings.history_scan_entries
    while scanned < budget and len(points) < limit:
        batch = ctx.store.change_range(
            cursor if inclusive else exclusive(cursor), stop, count=min(1000, budget - scanned)
        )
        if not batch:
            break
        for sid, _src, changes in batch:
            scanned += 1
            last_id = sid
            for c in changes:
                if c.equipment == equipment and (tag is None or c.tag == tag):
                    points.append(
                        HistoryPoint(id=sid, ts=c.source_ts, tag=c.tag, value=c.value, quality=c.quality)
                    )
            if len(points) >= limit:
                break
        cursor, inclusive = last_id or cursor, False
        more = True
    if last_id is not None and more:
        # one cheap probe: is there anything after the last scanned entry inside the range?
        more = bool(ctx.store.change_range(exclusive(last_id), stop, count=1))
    info = ctx.store.change_stream_info()
    oldest = id_ms(info["first_id"]) / 1000.0 if info["first_id"] else None
    return History(
        equipment=equipment,
        tag=tag,
        start=t_start,
        end=t_end,
        points=points,
        scanned_entries=scanned,
        next_after=last_id if more else None,
        oldest_available_ts=oldest,
        truncated_by_retention=bool(oldest is not None and oldest > t_start),
    )


def _before_stream(ctx: ApiContext, start: float) -> bool:
    """True if the change stream holds nothing as old as ``start`` (it was trimmed, or is empty)."""
    first = ctx.store.change_stream_info()["first_id"]
    return first is None or id_ms(first) / 1000.0 > start
