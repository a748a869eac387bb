"""Health of the data sources per line (admin): the PLC endpoint, tags by quality, stale and missing tags.

What the adapters mirrored is read back from the live hashes (one read per equipment, so this is for an
admin page, not for polling at a high rate). Mapping problems stay in the adapter process (its log and
``twin adapt --check``); this endpoint reports what the twin can see: tags that never got a value
(``missing``) and tags whose source went away (``stale``/``bad``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from twin.api.deps import ApiContext, admin, get_ctx

__all__ = ["LineSource", "SourcesOut", "router"]

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(admin)])

#: Equipment ids listed per problem kind at most (the counts are always complete).
MAX_LISTED = 20


class LineSource(BaseModel):
    """One line's data source."""

    line: str
    name: str | None = None
    endpoint: str | None = Field(description="the PLC's OPC UA endpoint from the plant file (None: none)")
    equipment: int
    tags_defined: int
    tags: dict[str, int] = Field(description="live tags by quality, and 'missing' (no value yet)")
    stale_equipment: list[str] = Field(description="equipment with a stale or bad tag (first 20)")
    missing_equipment: list[str] = Field(description="equipment with a tag that never got a value (first 20)")
    newest_source_ts: float | None = None
    age_s: float | None = Field(default=None, description="seconds since the newest source timestamp")


class SourcesOut(BaseModel):
    """Every line's data source and the plant's totals."""

    lines: list[LineSource]
    totals: dict[str, int]


def _line(ctx: ApiContext, line_id: str, now: float) -> LineSource:
    line = ctx.store.plant().line_by_id()[line_id]
    counts = {"good": 0, "uncertain": 0, "bad": 0, "stale": 0, "missing": 0}
    stale: list[str] = []
    missing: list[str] = []
    newest: float | None = None
    defined = 0
    for eq in line.equipment:
        tags = ctx.store.read_tags(eq.id)
        names = [t.name for t in eq.tags()]
        defined += len(names)
        for _v, q, ts in tags.values():
            counts[q] = counts.get(q, 0) + 1
            newest = ts if newest is None or ts > newest else newest
        gaps = sum(1 for n in names if n not in tags)
        counts["missing"] += gaps
        if gaps:
            missing.append(eq.id)
        if any(q in ("stale", "bad") for _v, q, _t in tags.values()):
            stale.append(eq.id)
    return LineSource(
        line=line.id,
        name=line.name,
        endpoint=line.opcua.endpoint if line.opcua else None,
        equipment=len(line.equipment),
        tags_defined=defined,
        tags=counts,
        stale_equipment=stale[:MAX_LISTED],
        missing_equipment=missing[:MAX_LISTED],
        newest_source_ts=newest,
        age_s=round(max(0.0, now - newest), 3) if newest is not None else None,
    )


@router.get("/sources", response_model=SourcesOut, summary="Data sources per line")
def sources(ctx: ApiContext = Depends(get_ctx)) -> SourcesOut:
    """Per line: endpoint, tags by quality, stale and missing equipment, age of the newest value."""
    now = ctx.clock()
    lines = [_line(ctx, line.id, now) for line in ctx.store.plant().lines]
    totals: dict[str, int] = {}
    for ls in lines:
        for q, n in ls.tags.items():
            totals[q] = totals.get(q, 0) + n
    return SourcesOut(lines=lines, totals=totals)
