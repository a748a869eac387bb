"""Plant graph: nodes, edges (filtered, paginated) and graph queries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from twin.api import graphq
from twin.api.deps import ApiContext, Page, get_ctx, known_line, page_params, paginate, viewer
from twin.api.errors import ApiError
from twin.model import EdgeKind, EquipmentType

__all__ = ["NODE_TYPES", "Bottleneck", "EdgeOut", "Neighbours", "Routes", "router"]

router = APIRouter(prefix="/api/v1/graph", tags=["graph"], dependencies=[Depends(viewer)])

NODE_TYPES = ["plant", "line", *[t.value for t in EquipmentType]]


class EdgeOut(BaseModel):
    """A typed relationship."""

    source: str
    target: str
    kind: str


class Neighbours(BaseModel):
    """Equipment reachable from a node along the material flow."""

    node: str
    direction: str
    items: list[dict[str, Any]]


class Routes(BaseModel):
    """Every way a model can go through the plant: lines, stations per step, takt and bottleneck."""

    model: str
    routes: list[dict[str, Any]]


class Bottleneck(BaseModel):
    """The limiting station of a line (or the plant) now, and of every line considered."""

    line: str | None
    bottleneck: dict[str, Any] | None
    lines: dict[str, dict[str, Any] | None]


def _node_line(node: dict[str, Any]) -> str | None:
    if node.get("type") == "line":
        return str(node["id"])
    line = node.get("line")
    return str(line) if line else None


@router.get("/nodes", response_model=Page[dict[str, Any]], summary="Graph nodes")
def nodes(
    type: str | None = Query(None, description=f"node type: {', '.join(NODE_TYPES)}"),
    line: str | None = Query(None, description="only nodes of this line"),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[dict[str, Any]]:
    """Plant, lines and equipment with their attributes."""
    if type is not None and type not in NODE_TYPES:
        raise ApiError(422, f"unknown node type {type!r} (use one of: {', '.join(NODE_TYPES)})", field="type")
    items = sorted(ctx.store.nodes().values(), key=lambda n: str(n.get("id")))
    if type is not None:
        items = [n for n in items if n.get("type", "station") == type]
    if line is not None:
        items = [n for n in items if _node_line(n) == line]
    return paginate(items, *page)


@router.get("/edges", response_model=Page[EdgeOut], summary="Graph edges")
def edges(
    kind: EdgeKind | None = Query(None, description="edge kind"),
    node: str | None = Query(None, description="only edges touching this node"),
    line: str | None = Query(None, description="only edges with an end in this line"),
    page: tuple[int, int] = Depends(page_params),
    ctx: ApiContext = Depends(get_ctx),
) -> Page[EdgeOut]:
    """Typed relationships (feeds, part_of, transports)."""
    rows = [EdgeOut(source=s, target=t, kind=k) for s, t, k in ctx.store.edges()]
    if kind is not None:
        rows = [e for e in rows if e.kind == kind.value]
    if node is not None:
        rows = [e for e in rows if node in (e.source, e.target)]
    if line is not None:
        members = {e.id for e in ctx.store.plant().equipment() if e.line == line} | {line}
        rows = [e for e in rows if e.source in members or e.target in members]
    return paginate(rows, *page)


@router.get("/upstream/{equipment}", response_model=Neighbours, summary="Upstream equipment")
def upstream(equipment: str, ctx: ApiContext = Depends(get_ctx)) -> Neighbours:
    """Everything a car can come from to reach ``equipment``, nearest first."""
    items = graphq.neighbours(ctx.store, equipment, "upstream")
    return Neighbours(node=equipment, direction="upstream", items=items)


@router.get("/downstream/{equipment}", response_model=Neighbours, summary="Downstream equipment")
def downstream(equipment: str, ctx: ApiContext = Depends(get_ctx)) -> Neighbours:
    """Everything a car can go on to from ``equipment``, nearest first."""
    items = graphq.neighbours(ctx.store, equipment, "downstream")
    return Neighbours(node=equipment, direction="downstream", items=items)


@router.get("/route/{model}", response_model=Routes, summary="Routes of a model")
def route(model: str, ctx: ApiContext = Depends(get_ctx)) -> Routes:
    """The routes of a model through the plant, with the stations that may do each step."""
    return Routes(model=model, routes=graphq.routes(ctx.store, model))


@router.get("/bottleneck", response_model=Bottleneck, summary="Bottleneck station")
def bottleneck(
    line: str | None = Query(None, description="a line (default: whole plant)"),
    ctx: ApiContext = Depends(get_ctx),
) -> Bottleneck:
    """The station limiting throughput: stopped (fault, changeover) first, else the longest cycle time."""
    known_line(ctx, line)
    return Bottleneck(**graphq.bottleneck(ctx.store, line))
