"""Layout geometry of a plant (or one line of it): where every box, belt, aisle and label goes.

One source of geometry for every view: the pyvista scene (desktop, snapshots, trame) draws it and the API
serves it to the web console (``GET /api/v1/layout``). Pure numpy from the plant model, no renderer:
:func:`plant_layout` returns a :class:`Layout`, with one :class:`Placement` per equipment id, the
part-marker and buffer-fill boxes, conveyor belts between fed equipment, AGV aisles of cell blocks, the
routes cars take when they leave a station, the floor's bounds and grid, and label anchors.

Coordinates are the plant's, in metres: x along the floor, y across, z up; an equipment's ``position`` is
the centre of its footprint on the floor, ``size`` its extent, ``yaw_deg`` its rotation about z. A box is
described by the centre of its base, its size and its yaw (degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from twin.errors import NotFoundError
from twin.model import PROCESSING_TYPES, EdgeKind, Equipment, EquipmentType, Line, LineKind, Plant

__all__ = [
    "CAR_SIZE",
    "HOLDS_PART",
    "VIEW_TAGS",
    "BoxArrays",
    "FloatArray",
    "Layout",
    "Placement",
    "Point",
    "Route",
    "Segment",
    "box_points",
    "plant_layout",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int_]
Point = tuple[float, float, float]
#: A straight piece of floor marking: ``((x0, y0), (x1, y1))``.
Segment = tuple[tuple[float, float], tuple[float, float]]
#: The route of a car leaving a station: start, corner and end points (two straight legs).
Route = tuple[FloatArray, FloatArray, FloatArray]

# A unit box with its base centred on the origin: 8 corners (bottom face first, then the top face).
_CORNERS = np.array(
    [[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0],
     [-0.5, -0.5, 1], [0.5, -0.5, 1], [0.5, 0.5, 1], [-0.5, 0.5, 1]],
    dtype=float,
)  # fmt: skip
#: Conveyor belts and AGV aisles: (width, height, extra length) of their flat boxes.
BELT = (1.2, 0.45, 0.0)
AISLE = (0.8, 0.06, 0.8)
#: States in which a station holds a car (a part marker is shown on it).
HOLDS_PART = frozenset({"Running", "Blocked", "Fault", "Changeover"})
#: The live tags a plant view draws from (colour, car markers, travelling cars, buffer fills, alarms); a
#: web client follows only these for the whole plant, and every tag of the station it looks at.
VIEW_TAGS = ("state", "part_count", "model", "level", "alarm")
#: Size (m) of a travelling car marker. It slides over the tops of the equipment (where the markers of
#: the cars a station holds sit), so it stays in view along the whole route instead of inside the bodies.
CAR_SIZE = (3.6, 1.6, 1.1)


def box_points(base: FloatArray, size: FloatArray, yaw_deg: FloatArray) -> FloatArray:
    """Corner points (``8n x 3``) of ``n`` boxes given base centres, sizes and yaw angles."""
    local = _CORNERS[None, :, :] * size[:, None, :]
    yaw = np.radians(yaw_deg)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x = local[:, :, 0] * c - local[:, :, 1] * s
    y = local[:, :, 0] * s + local[:, :, 1] * c
    pts = np.stack([x, y, local[:, :, 2]], axis=2) + base[:, None, :]
    return pts.reshape(-1, 3)


@dataclass(frozen=True)
class BoxArrays:
    """``n`` boxes: base centres ``(n, 3)``, sizes ``(n, 3)`` and yaw angles ``(n,)`` in degrees."""

    base: FloatArray
    size: FloatArray
    yaw: FloatArray

    def __len__(self) -> int:
        return len(self.base)


@dataclass(frozen=True)
class Placement:
    """Where one piece of equipment is drawn."""

    index: int  # position in :attr:`Layout.equipment` (and of its body box in :attr:`Layout.bodies`)
    equipment: Equipment
    centre: Point  # centre of the top face of its body
    front: Point  # centre of the face towards the default camera (-y)


@dataclass(frozen=True)
class Layout:
    """Everything the 3D view places, in plant metres; arrays follow :attr:`equipment`'s order."""

    plant: Plant
    lines: list[Line]
    equipment: list[Equipment]
    #: One entry per equipment id, in :attr:`equipment`'s order.
    placements: dict[str, Placement]
    #: Equipment bodies (a buffer is a low platform under its fill column).
    bodies: BoxArrays
    #: Indices (into :attr:`equipment`) of processing stations, and a car-sized marker on top of each.
    processing: IntArray
    parts: BoxArrays
    #: Indices of buffers, their fill columns at an empty level, and each column's full height.
    buffers: IntArray
    fills: BoxArrays
    fill_max_h: FloatArray
    #: Conveyor belts between fed equipment, and AGV aisles as floor markings (both flat boxes).
    belts: BoxArrays
    aisles: BoxArrays
    #: Route of a car leaving each processing station that sends cars on (to the next equipment).
    routes: dict[str, Route]
    #: Floor extent ``(x0, x1, y0, y1, 0, tallest equipment)``, and its grid as point pairs ``(2k, 3)``.
    bounds: tuple[float, float, float, float, float, float]
    grid: FloatArray
    #: Label anchors: one above each piece of equipment, one on the floor in front of each line.
    station_labels: FloatArray
    line_labels: list[tuple[Point, str]]


def plant_layout(plant: Plant, line: str | None = None) -> Layout:
    """The layout of ``plant`` or of its line ``line`` (:class:`NotFoundError` if there is no such line)."""
    lines = [ln for ln in plant.lines if line is None or ln.id == line]
    if not lines:
        known = ", ".join(ln.id for ln in plant.lines)
        raise NotFoundError(f"no line {line!r} in plant {plant.id!r} (lines: {known})")
    eq = [e for ln in lines for e in ln.equipment]
    pos = np.array([[e.position.x, e.position.y, e.position.z] for e in eq], dtype=float)
    size = np.array([[e.size.x, e.size.y, e.size.z] for e in eq], dtype=float)
    yaw = np.array([e.yaw_deg for e in eq], dtype=float)
    is_buf = np.array([e.type == EquipmentType.BUFFER for e in eq])
    body = size.copy()
    body[is_buf, 2] = np.minimum(0.3, size[is_buf, 2] * 0.25)  # a buffer is a platform + fill column
    placements = _placements(eq, pos, body)
    proc = np.array([i for i, e in enumerate(eq) if e.type in PROCESSING_TYPES], dtype=int)
    bufs = np.flatnonzero(is_buf)
    belts, aisles = _belts_and_aisles(plant, lines, eq)
    bounds = _floor_bounds(pos, size)
    labels = pos.copy()
    labels[:, 2] += body[:, 2] + 2.4
    return Layout(
        plant=plant,
        lines=lines,
        equipment=eq,
        placements=placements,
        bodies=BoxArrays(pos, body, yaw),
        processing=proc,
        parts=_part_markers(pos, size, body, yaw, proc),
        buffers=bufs,
        fills=_fill_columns(pos, size, body, yaw, bufs),
        fill_max_h=np.maximum(size[bufs, 2], 1.0),
        belts=belts,
        aisles=aisles,
        routes=_routes(plant, lines, eq, {k: p.centre[2] for k, p in placements.items()}),
        bounds=bounds,
        grid=_grid(bounds),
        station_labels=labels,
        line_labels=_line_labels(lines),
    )


def _placements(eq: list[Equipment], pos: FloatArray, body: FloatArray) -> dict[str, Placement]:
    out: dict[str, Placement] = {}
    for i, e in enumerate(eq):
        top = (float(pos[i, 0]), float(pos[i, 1]), float(pos[i, 2] + body[i, 2]))
        yr = math.radians(e.yaw_deg)
        half_y = 0.5 * e.size.y
        front = (
            float(pos[i, 0] + half_y * math.sin(yr)),
            float(pos[i, 1] - half_y * math.cos(yr)),
            float(pos[i, 2] + 0.45 * body[i, 2]),
        )
        out[e.id] = Placement(i, e, top, front)
    return out


def _part_markers(
    pos: FloatArray, size: FloatArray, body: FloatArray, yaw: FloatArray, proc: IntArray
) -> BoxArrays:
    """A car-sized box on top of each processing station (shown while the station holds a car)."""
    psz = size[proc]
    car = np.stack(
        [np.minimum(4.6, psz[:, 0] * 0.75), np.minimum(1.9, psz[:, 1] * 0.5), np.full(len(proc), 1.3)], 1
    )
    base = pos[proc].copy()
    base[:, 2] += body[proc, 2]
    return BoxArrays(base, car, yaw[proc])


def _fill_columns(
    pos: FloatArray, size: FloatArray, body: FloatArray, yaw: FloatArray, bufs: IntArray
) -> BoxArrays:
    """A column on each buffer's platform (its top follows level / capacity), here at its empty height."""
    bsz = size[bufs]
    base = pos[bufs].copy()
    base[:, 2] += body[bufs, 2]
    column = np.stack([bsz[:, 0] * 0.8, bsz[:, 1] * 0.7, np.full(len(bsz), 0.02)], axis=1)
    return BoxArrays(base, column, yaw[bufs])


def _segment_boxes(segs: list[Segment], shape: tuple[float, float, float]) -> BoxArrays:
    """Flat boxes along floor segments (belts, aisles); ``shape`` is (width, height, extra length)."""
    width, height, extend = shape
    base, size, yaw = [], [], []
    for (xa, ya), (xb, yb) in segs:
        length = math.hypot(xb - xa, yb - ya)
        if length < 1e-6:
            continue
        base.append([(xa + xb) / 2, (ya + yb) / 2, 0.0])
        size.append([length + extend, width, height])
        yaw.append(math.degrees(math.atan2(yb - ya, xb - xa)))
    return BoxArrays(
        np.array(base, dtype=float).reshape(-1, 3),
        np.array(size, dtype=float).reshape(-1, 3),
        np.array(yaw, dtype=float),
    )


def _belts_and_aisles(plant: Plant, lines: list[Line], eq: list[Equipment]) -> tuple[BoxArrays, BoxArrays]:
    """Conveyor belts between fed equipment, and AGV aisles as floor markings."""
    by_id = {e.id: e for e in eq}
    pairs: list[tuple[Equipment, Equipment]] = []
    for ln in lines:
        if ln.kind != LineKind.CELLS:
            pairs += list(zip(ln.equipment[:-1], ln.equipment[1:], strict=True))
    agv_paths: dict[str, list[Equipment]] = {}
    for edge in plant.edges:
        a, b = by_id.get(edge.source), by_id.get(edge.target)
        if a is None or b is None:
            continue
        if edge.kind == EdgeKind.TRANSPORTS and a.type == EquipmentType.AGV:
            agv_paths.setdefault(a.id, [a]).append(b)
        elif edge.kind == EdgeKind.FEEDS:
            pairs.append((a, b))
    pairs = [(a, b) for a, b in pairs if EquipmentType.AGV not in (a.type, b.type)]
    belts = [((a.position.x, a.position.y), (b.position.x, b.position.y)) for a, b in pairs]
    aisles = _agv_aisles(agv_paths) if agv_paths else []
    return _segment_boxes(belts, BELT), _segment_boxes(aisles, AISLE)


def _agv_aisles(agv_paths: dict[str, list[Equipment]]) -> list[Segment]:
    """AGV routes as floor markings: an aisle along x through each AGV's home position, joined by a spine
    left of the cells served (cell blocks are laid out on a grid, AGVs waiting in the aisles)."""
    stops = [e for path in agv_paths.values() for e in path[1:]]
    agvs = [path[0] for path in agv_paths.values()]
    x_spine = min(e.position.x - e.size.x / 2 for e in stops + agvs) - 2.0
    x_end = max(e.position.x + e.size.x / 2 for e in stops)
    ys = sorted({a.position.y for a in agvs})
    y_lo = min([*ys, *(e.position.y for e in stops)])
    y_hi = max([*ys, *(e.position.y for e in stops)])
    return [((x_spine, y), (x_end, y)) for y in ys] + [((x_spine, y_lo), (x_spine, y_hi))]


def _next_equipment(
    plant: Plant, lines: list[Line], by_id: dict[str, Equipment]
) -> tuple[dict[str, str], dict[str, Equipment]]:
    """Where a car goes next from each piece of equipment, and the AGV that serves each cell."""
    nxt: dict[str, str] = {}
    for ln in lines:
        if ln.kind != LineKind.CELLS:
            for here, there in zip(ln.equipment[:-1], ln.equipment[1:], strict=True):
                nxt.setdefault(here.id, there.id)
    agv_of: dict[str, Equipment] = {}
    for edge in plant.edges:
        a, b = by_id.get(edge.source), by_id.get(edge.target)
        if a is None or b is None:
            continue
        if edge.kind == EdgeKind.FEEDS and b.type != EquipmentType.AGV:
            nxt.setdefault(a.id, b.id)
        elif edge.kind == EdgeKind.TRANSPORTS and a.type == EquipmentType.AGV:
            agv_of.setdefault(b.id, a)
    return nxt, agv_of


def _exit_directions(lines: list[Line]) -> dict[str, FloatArray]:
    """Unit direction (along the floor) in which a finished car rolls off the end of each flow line."""
    exit_dir: dict[str, FloatArray] = {}
    for ln in lines:
        if ln.kind != LineKind.CELLS and len(ln.equipment) >= 2:
            a, b = ln.equipment[-2], ln.equipment[-1]
            d = np.array([b.position.x - a.position.x, b.position.y - a.position.y, 0.0])
            if np.linalg.norm(d) > 1e-6:
                exit_dir[b.id] = d / np.linalg.norm(d)
    return exit_dir


def _routes(plant: Plant, lines: list[Line], eq: list[Equipment], top: dict[str, float]) -> dict[str, Route]:
    """Route of a car leaving each processing station: (start, corner, end), from the top of the station.

    Flow lines: along the belt to the top of the next equipment (straight; the corner is the midpoint);
    the last station of a line sends it off the line's end. Cells: out to the aisle of the AGV that
    serves the cell, then along the aisle to the AGV.
    """
    by_id = {e.id: e for e in eq}
    nxt, agv_of = _next_equipment(plant, lines, by_id)
    exit_dir = _exit_directions(lines)
    out: dict[str, Route] = {}
    for e in eq:
        if e.type not in PROCESSING_TYPES:
            continue
        start = np.array([e.position.x, e.position.y, top[e.id]])
        if e.id in nxt:
            t = by_id[nxt[e.id]]
            end = np.array([t.position.x, t.position.y, top[t.id]])
            out[e.id] = (start, (start + end) / 2, end)
        elif e.id in exit_dir:  # the end of a flow line: the finished car rolls off the end
            end = start + 6.0 * exit_dir[e.id]
            out[e.id] = (start, (start + end) / 2, end)
        elif e.id in agv_of:
            agv = agv_of[e.id]
            end = np.array([agv.position.x, agv.position.y, top[agv.id]])
            corner = np.array([e.position.x, agv.position.y, top[agv.id]])
            out[e.id] = (start, corner, end)
    return out


def _floor_bounds(pos: FloatArray, size: FloatArray) -> tuple[float, float, float, float, float, float]:
    """The hall: every footprint with a margin, on whole metres; z up to the tallest equipment."""
    ext = np.max(size[:, :2], axis=1)[:, None] * 0.75
    lo = np.floor((pos[:, :2] - ext).min(axis=0) - 6.0)
    hi = np.ceil((pos[:, :2] + ext).max(axis=0) + 6.0)
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), 0.0, float(size[:, 2].max()))


def _grid(bounds: tuple[float, float, float, float, float, float]) -> FloatArray:
    """Floor grid lines (every 5 m, or 20 m on a large floor) as point pairs ``(2k, 3)``."""
    lo = np.array([bounds[0], bounds[2]])
    hi = np.array([bounds[1], bounds[3]])
    step = 5.0 if max(hi - lo) <= 200 else 20.0
    xs = np.arange(math.ceil(lo[0] / step) * step, hi[0] + 1e-9, step)
    ys = np.arange(math.ceil(lo[1] / step) * step, hi[1] + 1e-9, step)
    segs = [((x, lo[1], 0.0), (x, hi[1], 0.0)) for x in xs] + [((lo[0], y, 0.0), (hi[0], y, 0.0)) for y in ys]
    return np.array([p for seg in segs for p in seg], dtype=float)


def _line_labels(lines: list[Line]) -> list[tuple[Point, str]]:
    """Each line's label: in front of its first piece of equipment, on the floor (never clipped)."""
    out: list[tuple[Point, str]] = []
    for ln in lines:
        first = min(ln.equipment, key=lambda e: e.position.x - e.size.x / 2)
        y_front = min(e.position.y - e.size.y / 2 for e in ln.equipment)
        text = f"{ln.id} ({ln.kind.value})" if ln.name is None else f"{ln.id}: {ln.name}"
        out.append(((first.position.x - first.size.x / 2, y_front - 1.8, 0.1), text))
    return out
