"""What the OPC UA adapters report about their mapping: the tags they cannot mirror as bound, and why.

An adapter resolves its bindings on every (re)connect and records each problem (``equipment.tag -> node:
problem``: a node that does not exist, a wrong type, a unit that does not convert, an array where a scalar
is declared, monitoring refused) in the twin; the rest of its tags keep mirroring. A fixed binding
disappears with the adapter's next report, and loading a changed plant definition clears them all.
"""

from __future__ import annotations

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

__all__ = ["MappingProblemOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["adapters"], dependencies=[Depends(viewer)])


class MappingProblemOut(BaseModel):
    """A tag an adapter cannot mirror as bound (``fatal``: nothing stored for it) or mirrors with a caveat."""

    equipment: str
    tag: str
    node: str
    problem: str
    fatal: bool
    endpoint: str
    reported: float


@router.get(
    "/adapters/problems",
    response_model=Page[MappingProblemOut],
    summary="Mapping problems reported by the adapters",
)
def problems(
    line: str | None = Query(None, description="only this line"),
    equipment: str | None = Query(None, description="only this equipment"),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[MappingProblemOut]:
    """Every tag whose binding an adapter refused, by equipment and tag, with the node and the reason."""
    known_line(ctx, line)
    if equipment is not None:
        known_equipment(ctx, equipment)
    rows = ctx.store.mapping_problems(line)
    if equipment is not None:
        rows = [r for r in rows if r["equipment"] == equipment]
    return paginate([MappingProblemOut(**r) for r in rows], *page)
