"""The plant's layout as JSON, for clients that draw the plant themselves (the web console's 3D view).

The same :func:`twin.layout.plant_layout` the pyvista scene draws, with the viewer's palette
(:mod:`twin.palette`): one layout for desktop, snapshot and web, never a second hand-kept copy.
Coordinates are plant metres (x along the floor, y across, z up); a box is its base centre, size and
yaw in degrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Query

from twin.api.deps import ApiContext, get_ctx, known_line, viewer
from twin.layout import CAR_SIZE, HOLDS_PART, VIEW_TAGS, BoxArrays, FloatArray, Layout, plant_layout
from twin.model import StationState
from twin.palette import (
    AGV_PATH_RGB,
    CONVEYOR_RGB,
    FILL_RGB,
    FLOOR_RGB,
    GRID_RGB,
    RGB,
    STALE_RGB,
    STATE_RGB,
    TEXT_RGB,
    hex_color,
    legend_entries,
    model_rgb,
)

__all__ = ["layout_document", "palette_document", "router"]

router = APIRouter(prefix="/api/v1", tags=["graph"], dependencies=[Depends(viewer)])


def _r(values: Any) -> list[float]:
    return [round(float(v), 3) for v in values]


def _box(boxes: BoxArrays, i: int) -> dict[str, Any]:
    return {"base": _r(boxes.base[i]), "size": _r(boxes.size[i]), "yaw": round(float(boxes.yaw[i]), 3)}


def _boxes(boxes: BoxArrays) -> list[dict[str, Any]]:
    return [_box(boxes, i) for i in range(len(boxes))]


def _colour(rgb: RGB) -> dict[str, Any]:
    return {"hex": hex_color(rgb), "rgb": list(rgb)}


def palette_document(models: list[str]) -> dict[str, Any]:
    """State colours in state-code order (a PLC may send the name or the code), legend, static colours."""
    return {
        "states": [{"name": s.value, **_colour(STATE_RGB[s])} for s in StationState],
        "stale": _colour(STALE_RGB),
        "legend": [{"label": label, **_colour(rgb)} for label, rgb in legend_entries()],
        "models": [{"id": m, **_colour(model_rgb(m, models))} for m in models],
        "floor": _colour(FLOOR_RGB),
        "grid": _colour(GRID_RGB),
        "conveyor": _colour(CONVEYOR_RGB),
        "agv_path": _colour(AGV_PATH_RGB),
        "fill": _colour(FILL_RGB),
        "text": _colour(TEXT_RGB),
    }


def _route(route: tuple[FloatArray, FloatArray, FloatArray] | None) -> list[list[float]] | None:
    return None if route is None else [_r(p) for p in route]


def _equipment(layout: Layout) -> list[dict[str, Any]]:
    part_of = {int(i): k for k, i in enumerate(layout.processing)}
    fill_of = {int(i): k for k, i in enumerate(layout.buffers)}
    out = []
    for i, e in enumerate(layout.equipment):
        p = layout.placements[e.id]
        k = fill_of.get(i)
        fill = None if k is None else {**_box(layout.fills, k), "max_h": float(layout.fill_max_h[k])}
        out.append(
            {
                "id": e.id,
                "name": e.name,
                "type": e.type.value,
                "line": e.line,
                "body": _box(layout.bodies, i),
                "top": _r(p.centre),
                "front": _r(p.front),
                "label_at": _r(layout.station_labels[i]),
                "part": _box(layout.parts, part_of[i]) if i in part_of else None,
                "fill": fill,
                "capacity": e.capacity,
                "route": _route(layout.routes.get(e.id)),
            }
        )
    return out


def layout_document(layout: Layout) -> dict[str, Any]:
    """The layout as plain JSON (floats rounded to millimetres)."""
    plant = layout.plant
    grid = np.asarray(layout.grid).reshape(-1, 2, 3)
    return {
        "plant": {"id": plant.id, "name": plant.name},
        "bounds": _r(layout.bounds),
        "grid": [_r([a[0], a[1], b[0], b[1]]) for a, b in grid],
        "lines": [
            {
                "id": ln.id,
                "name": ln.name,
                "kind": ln.kind.value,
                "label": {"text": text, "at": _r(at)},
                "equipment": [{"id": e.id, "name": e.name, "type": e.type.value} for e in ln.equipment],
            }
            for ln, (at, text) in zip(layout.lines, layout.line_labels, strict=True)
        ],
        "equipment": _equipment(layout),
        "cars": {"size": list(CAR_SIZE), "hold_states": sorted(HOLDS_PART)},
        "view_tags": list(VIEW_TAGS),
        "belts": _boxes(layout.belts),
        "aisles": _boxes(layout.aisles),
        "palette": palette_document([m.id for m in plant.models]),
    }


@router.get("/layout", response_model=dict[str, Any], summary="Plant layout for 3D clients")
def layout(
    line: str | None = Query(None, description="only this line"), ctx: ApiContext = Depends(get_ctx)
) -> dict[str, Any]:
    """Where every piece of equipment, belt and aisle is drawn, and the state palette (the 3D viewer's)."""
    known_line(ctx, line)
    return layout_document(plant_layout(ctx.store.plant(), line))
