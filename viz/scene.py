"""The 3D scene of a plant: built once from the plant definition, then recoloured in place.

All equipment is ONE merged mesh of boxes (8 points, 5 quads each) with a per-cell RGB array; a live update
writes new colours into that array (and moves a few points for part markers and buffer fill levels) and
marks it modified, so a frame costs one render, never a rebuild. Static parts (floor, grid, conveyors, AGV
paths, labels, legend) are built once.

Coordinates are the plant's, in metres: x along the floor, y across, z up; ``position`` is the centre of an
equipment's footprint on the floor, ``size`` its extent, ``yaw_deg`` its rotation about z.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkStringArray
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCoordinate, vtkPolyDataMapper2D
from vtkmodules.vtkRenderingLabel import vtkLabeledDataMapper

from twin.model import PROCESSING_TYPES, EdgeKind, Equipment, EquipmentType, LineKind, Plant
from viz.errors import VizError
from viz.live import LiveState
from viz.palette import (
    AGV_PATH_RGB,
    CONVEYOR_RGB,
    FILL_RGB,
    FLOOR_RGB,
    GRID_RGB,
    RGB,
    STALE_RGB,
    TEXT_RGB,
    hex_color,
    legend_entries,
    model_rgb,
    state_rgb,
)

pv.global_theme.multi_samples = 0  # MSAA is 4-6x slower in software OpenGL
pv.global_theme.allow_empty_mesh = True

FloatArray = npt.NDArray[np.float64]

# A unit box with its base centred on the origin: 8 corners, 5 outward-facing quads (no bottom: it is
# never seen from above the floor, and vertices are what software OpenGL pays for at 2,000 stations).
_CORNERS = np.array(
    [[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0],
     [-0.5, -0.5, 1], [0.5, -0.5, 1], [0.5, 0.5, 1], [-0.5, 0.5, 1]],
    dtype=float,
)  # fmt: skip
_QUADS = np.array([[4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])
FACES = len(_QUADS)
# Baked lighting: direction towards the light, and the ambient/diffuse weights.
_LIGHT = np.array([-0.35, -0.8, 1.0])
_AMBIENT, _DIFFUSE = 0.62, 0.42
#: Shortest interval between two HUD refreshes during live updates.
HUD_EVERY_S = 1.0
#: States in which a station holds a car (a part marker is shown on it).
_HOLDS_PART = frozenset({"Running", "Blocked", "Fault", "Changeover"})
#: Frames a car takes to travel from a station to the next equipment (4 fps in the browser: ~1.5 s).
TRAVEL_FRAMES = 6
#: Most cars shown travelling at once (the oldest is recycled when more start).
MAX_TRAVELLERS = 48
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


def face_shades(yaw_deg: FloatArray) -> npt.NDArray[np.float32]:
    """Brightness of each face of ``n`` boxes (``FACES * n``): lighting baked into the colours.

    Everything is drawn unlit because software OpenGL pays for lighting on every pixel (a lit scene
    renders 2-4x slower here); a fixed light from the front-left above gives the same 3D look.
    """
    yaw = np.radians(yaw_deg)[:, None]
    c, s = np.cos(yaw), np.sin(yaw)
    # Local face normals (top, -y, +x, +y, -x), rotated about z by yaw.
    nx = np.array([0.0, 0.0, 1.0, 0.0, -1.0])[None, :]
    ny = np.array([0.0, -1.0, 0.0, 1.0, 0.0])[None, :]
    nz = np.array([1.0, 0.0, 0.0, 0.0, 0.0])[None, :]
    wx, wy = nx * c - ny * s, nx * s + ny * c
    light = _LIGHT / np.linalg.norm(_LIGHT)
    lam = np.clip(wx * light[0] + wy * light[1] + nz * light[2], 0.0, 1.0)
    out: npt.NDArray[np.float32] = (_AMBIENT + _DIFFUSE * lam).astype(np.float32).reshape(-1)
    return out


def shade(rgb: npt.NDArray[np.uint8], shades: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Per-cell colours: base colours (one row per cell) times the baked face brightness."""
    out: npt.NDArray[np.uint8] = np.clip(rgb * shades[:, None], 0, 255).astype(np.uint8)
    return out


def box_mesh(base: FloatArray, size: FloatArray, yaw_deg: FloatArray) -> pv.PolyData:
    """One PolyData of ``n`` boxes (cells ``FACES*i .. FACES*i+FACES-1`` belong to box ``i``)."""
    n = len(base)
    pts = box_points(base, size, yaw_deg)
    quads = _QUADS[None, :, :] + 8 * np.arange(n)[:, None, None]
    faces = np.hstack([np.full((FACES * n, 1), 4), quads.reshape(-1, 4)]).ravel()
    return pv.PolyData(pts, faces)


class _Boxes:
    """Collects groups of boxes for one merged mesh; ``add`` returns the index of a group's first box."""

    def __init__(self) -> None:
        self._base: list[FloatArray] = []
        self._size: list[FloatArray] = []
        self._yaw: list[FloatArray] = []
        self._rgb: list[npt.NDArray[np.uint8]] = []
        self.count = 0

    def add(self, base: FloatArray, size: FloatArray, yaw: FloatArray, rgb: RGB) -> int:
        first = self.count
        n = len(base)
        if n:
            self._base.append(np.asarray(base, dtype=float).reshape(n, 3))
            self._size.append(np.asarray(size, dtype=float).reshape(n, 3))
            self._yaw.append(np.asarray(yaw, dtype=float).reshape(n))
            self._rgb.append(np.tile(np.array(rgb, dtype=np.uint8), (n, 1)))
            self.count += n
        return first

    @property
    def yaw(self) -> FloatArray:
        return np.concatenate(self._yaw)

    @property
    def rgb(self) -> npt.NDArray[np.uint8]:
        return np.concatenate(self._rgb)

    def mesh(self) -> pv.PolyData:
        return box_mesh(np.concatenate(self._base), np.concatenate(self._size), self.yaw)


Segment = tuple[tuple[float, float], tuple[float, float]]


def _segments(
    segs: list[Segment], *, width: float, height: float, rgb: RGB, extend: float = 0.0
) -> tuple[FloatArray, FloatArray, FloatArray, RGB]:
    """Flat boxes along floor segments (belts, aisles): base centres, sizes, yaws and colour."""
    base, size, yaw = [], [], []
    for (xa, ya), (xb, yb) in segs:
        length = math.hypot(xb - xa, yb - ya)
        if length < 1e-6:
            continue
        base.append([(xa + xb) / 2, (ya + yb) / 2, 0.0])
        size.append([length + extend, width, height])
        yaw.append(math.degrees(math.atan2(yb - ya, xb - xa)))
    return (
        np.array(base, dtype=float).reshape(-1, 3),
        np.array(size, dtype=float).reshape(-1, 3),
        np.array(yaw, dtype=float),
        rgb,
    )


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


@dataclass(frozen=True)
class Slot:
    """Where one piece of equipment is in the scene."""

    index: int
    equipment: Equipment
    centre: tuple[float, float, float]  # centre of the top face
    front: tuple[float, float, float]  # centre of the face towards the default camera (-y)


class PlantScene:
    """A plant (or one line of it) drawn into a pyvista plotter, with live colours updated in place."""

    def __init__(
        self,
        plant: Plant,
        plotter: pv.Plotter,
        *,
        line: str | None = None,
        labels: bool = True,
        max_station_labels: int = 120,
        hud: bool = True,
        legend: bool = True,
    ) -> None:
        self.plant = plant
        self.plotter: Any = plotter  # pyvista's decorated methods do not type-check well
        self.line = line
        lines = [ln for ln in plant.lines if line is None or ln.id == line]
        if not lines:
            known = ", ".join(ln.id for ln in plant.lines)
            raise VizError(f"no line {line!r} in plant {plant.id!r} (lines: {known})")
        self.lines = lines
        self.equipment = [e for ln in lines for e in ln.equipment]
        self._models = [m.id for m in plant.models]
        self.slots: dict[str, Slot] = {}
        self._hud_actor: Any = None
        self._hud_at = -1e18
        self._hud_text = ""
        self._build(labels=labels, max_station_labels=max_station_labels, hud=hud, legend=legend)

    # ------------------------------------------------------------------ building
    def _build(self, *, labels: bool, max_station_labels: int, hud: bool, legend: bool) -> None:
        p = self.plotter
        eq = self.equipment
        pos = np.array([[e.position.x, e.position.y, e.position.z] for e in eq], dtype=float)
        size = np.array([[e.size.x, e.size.y, e.size.z] for e in eq], dtype=float)
        yaw = np.array([e.yaw_deg for e in eq], dtype=float)
        is_buf = np.array([e.type == EquipmentType.BUFFER for e in eq])
        body = size.copy()
        body[is_buf, 2] = np.minimum(0.3, size[is_buf, 2] * 0.25)  # a buffer is a platform + fill column

        # Everything solid is ONE merged mesh of boxes, in this order: equipment bodies, part markers, buffer
        # fill columns, conveyor belts, AGV aisles. Colours are per box (self._box_rgb), expanded to the cells
        # with baked shading; live updates write colours and a few points in place.
        boxes = _Boxes()
        self._eq_off = boxes.add(pos, body, yaw, STALE_RGB)
        # Part markers: a car-sized box on each processing station, collapsed when it holds no car.
        self._proc_idx = np.array([i for i, e in enumerate(eq) if e.type in PROCESSING_TYPES], dtype=int)
        m = len(self._proc_idx)
        psz = size[self._proc_idx]
        car = np.stack(
            [np.minimum(4.6, psz[:, 0] * 0.75), np.minimum(1.9, psz[:, 1] * 0.5), np.full(m, 1.3)], 1
        )
        car_base = pos[self._proc_idx].copy()
        car_base[:, 2] += body[self._proc_idx, 2]
        self._parts_off = boxes.add(car_base, car, yaw[self._proc_idx], model_rgb(None, self._models))
        self._proc_pos = {int(i): k for k, i in enumerate(self._proc_idx)}
        self._parts_shown = np.zeros(m, dtype=bool)
        # Buffer fill levels: a column on the platform whose top follows level / capacity.
        self._buf_idx = np.flatnonzero(is_buf)
        self._buf_pos = {int(i): k for k, i in enumerate(self._buf_idx)}
        bsz = size[self._buf_idx]
        fill_base = pos[self._buf_idx].copy()
        fill_base[:, 2] += body[self._buf_idx, 2]
        colsz = np.stack([bsz[:, 0] * 0.8, bsz[:, 1] * 0.7, np.full(len(bsz), 0.02)], axis=1)
        self._fill_off = boxes.add(fill_base, colsz, yaw[self._buf_idx], FILL_RGB)
        self._fill_base_z = fill_base[:, 2]
        self._fill_max_h = np.maximum(size[self._buf_idx, 2], 1.0)
        # Travelling cars: a pool of collapsed boxes, moved along a belt / AGV aisle for a few frames when a
        # station's part counter goes up (a car left it). Only their points move; nothing is rebuilt.
        self._next_of = self._downstream({e.id: float(pos[i, 2] + body[i, 2]) for i, e in enumerate(eq)})
        nt = min(MAX_TRAVELLERS, len(self._next_of))
        self._trav_off = boxes.add(np.zeros((nt, 3)), np.tile(CAR_SIZE, (nt, 1)), np.zeros(nt), STALE_RGB)
        self._trav_n = nt
        self._trav_step = np.full(nt, -1, dtype=int)  # -1: idle; else frames travelled so far
        self._trav_path = np.zeros((nt, 3, 3))  # start, corner, end of each route (two legs)
        self._trav_from: list[str | None] = [None] * nt
        self._trav_next = 0
        self._last_count: dict[str, float] = {}
        for base, sz, yw, rgb in self._conveyors_and_aisles():
            boxes.add(base, sz, yw, rgb)

        self.mesh = boxes.mesh()
        self._box_rgb = boxes.rgb
        self._cell_owner = np.repeat(np.arange(len(self._box_rgb)), FACES)
        self._shades = face_shades(boxes.yaw)
        self.mesh.cell_data["rgb"] = shade(self._box_rgb[self._cell_owner], self._shades)
        # Back faces are never seen on closed boxes: culling them saves ~20-35% of the fill in software GL.
        p.add_mesh(self.mesh, scalars="rgb", rgb=True, lighting=False, culling="back", name="equipment")
        self._rgb_vtk = self.mesh.GetCellData().GetArray("rgb")
        self._rgb_view = np.asarray(self.mesh.cell_data["rgb"])  # views on the VTK arrays
        self._pts = np.asarray(self.mesh.points)
        # Part markers start hidden: remember their full shape, collapse them onto their base centre.
        sl = slice(8 * self._parts_off, 8 * (self._parts_off + m))
        self._parts_full = self._pts[sl].copy()
        self._parts_hidden = np.repeat(car_base, 8, axis=0)
        self._pts[sl] = self._parts_hidden
        ts = slice(8 * self._trav_off, 8 * (self._trav_off + nt))
        self._trav_local = self._pts[ts].copy().reshape(nt, 8, 3)  # a car box at the origin, yaw 0
        self._pts[ts] = 0.0  # collapsed (degenerate faces draw nothing)

        self._add_floor(pos, size)
        for i, e in enumerate(eq):
            top = (float(pos[i, 0]), float(pos[i, 1]), float(pos[i, 2] + body[i, 2]))
            yr = math.radians(e.yaw_deg)
            half_y = 0.5 * e.size.y
            front = (
                float(pos[i, 0] + half_y * math.sin(yr)),
                float(pos[i, 1] - half_y * math.cos(yr)),
                float(pos[i, 2] + 0.45 * body[i, 2]),
            )
            self.slots[e.id] = Slot(i, e, top, front)
        if labels:
            self._add_labels(pos, body, max_station_labels)
        if legend:
            self._add_legend()
        if hud:
            self._hud_actor = p.add_text(
                "", position="upper_left", font_size=10, color=hex_color(TEXT_RGB), font="courier", name="hud"
            )
        self.reset_camera()

    def _add_legend(self) -> None:
        # Own legend: vtkLegendBoxActor draws the text in the entry colour, unreadable for pale ones. It is
        # anchored to the right edge (text right-aligned, chips right of it) so it fits any window width.
        rows: list[tuple[str, RGB | None]] = [("station state", None), *legend_entries()]
        if self._models:
            rows += [("", None), ("car model", None)]
            rows += [(m, model_rgb(m, self._models)) for m in self._models[:6]]
        top, step, x0, w = 0.965, 0.032, 0.982, 0.011
        pts: list[list[float]] = []
        quads: list[list[int]] = []
        colours: list[RGB] = []
        for k, (name, rgb) in enumerate(rows):
            y = top - k * step
            if name:
                label = self.plotter.add_text(
                    name, position=(x0 - 0.007 if rgb else x0 + w, y - 0.004), viewport=True, font_size=10,
                    color=hex_color(TEXT_RGB), name=f"legend-{k}",
                )  # fmt: skip
                label.GetTextProperty().SetShadow(False)
                label.GetTextProperty().SetJustificationToRight()
            if rgb is not None:
                c = len(quads)
                pts += [[x0, y, 0], [x0 + w, y, 0], [x0 + w, y + w * 1.6, 0], [x0, y + w * 1.6, 0]]
                quads.append([4, 4 * c, 4 * c + 1, 4 * c + 2, 4 * c + 3])
                colours.append(rgb)
        chips = pv.PolyData(np.array(pts, dtype=float), faces=np.hstack(quads))
        chips.cell_data["rgb"] = np.array(colours, dtype=np.uint8)
        coord = vtkCoordinate()
        coord.SetCoordinateSystemToNormalizedViewport()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(chips)
        mapper.SetTransformCoordinate(coord)
        mapper.SetScalarModeToUseCellData()
        mapper.SetColorModeToDirectScalars()
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        self.plotter.add_actor(actor, name="legend-chips", reset_camera=False)
        # Outlines, so pale chips (stale, a white car) show on the white background.
        outline = pv.PolyData(np.array(pts, dtype=float))
        outline.lines = np.hstack([[5, q[1], q[2], q[3], q[4], q[1]] for q in quads])
        omapper = vtkPolyDataMapper2D()
        omapper.SetInputData(outline)
        omapper.SetTransformCoordinate(coord)
        oactor = vtkActor2D()
        oactor.SetMapper(omapper)
        oactor.GetProperty().SetColor(0.45, 0.45, 0.45)
        self.plotter.add_actor(oactor, name="legend-outlines", reset_camera=False)

    def _add_floor(self, pos: FloatArray, size: FloatArray) -> None:
        ext = np.max(size[:, :2], axis=1)[:, None] * 0.75
        lo = np.floor((pos[:, :2] - ext).min(axis=0) - 6.0)
        hi = np.ceil((pos[:, :2] + ext).max(axis=0) + 6.0)
        self.bounds = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]), 0.0, float(size[:, 2].max()))
        # No floor polygon: the background is the floor colour and the grid marks the hall. A full-window
        # quad is pure fill cost in software OpenGL (~15-25 ms per frame at 1280x720 here).
        self.plotter.set_background(hex_color(FLOOR_RGB))
        step = 5.0 if max(hi - lo) <= 200 else 20.0
        xs = np.arange(math.ceil(lo[0] / step) * step, hi[0] + 1e-9, step)
        ys = np.arange(math.ceil(lo[1] / step) * step, hi[1] + 1e-9, step)
        segs = [((x, lo[1], 0.0), (x, hi[1], 0.0)) for x in xs] + [
            ((lo[0], y, 0.0), (hi[0], y, 0.0)) for y in ys
        ]
        pts = np.array([p for seg in segs for p in seg], dtype=float)
        grid = pv.PolyData(pts, lines=np.hstack([[2, 2 * k, 2 * k + 1] for k in range(len(segs))]))
        self.plotter.add_mesh(grid, color=hex_color(GRID_RGB), line_width=1, lighting=False, name="grid")

    def _conveyors_and_aisles(self) -> list[tuple[FloatArray, FloatArray, FloatArray, RGB]]:
        """Static boxes: conveyor belts between fed equipment, and AGV aisles as floor markings."""
        by_id = {e.id: e for e in self.equipment}
        pairs: list[tuple[Equipment, Equipment]] = []
        for ln in self.lines:
            if ln.kind != LineKind.CELLS:
                pairs += list(zip(ln.equipment[:-1], ln.equipment[1:], strict=True))
        agv_paths: dict[str, list[Equipment]] = {}
        for edge in self.plant.edges:
            a, b = by_id.get(edge.source), by_id.get(edge.target)
            if a is None or b is None:
                continue
            if edge.kind == EdgeKind.TRANSPORTS and a.type == EquipmentType.AGV:
                agv_paths.setdefault(a.id, [a]).append(b)
            elif edge.kind == EdgeKind.FEEDS:
                pairs.append((a, b))
        pairs = [(a, b) for a, b in pairs if EquipmentType.AGV not in (a.type, b.type)]
        belts = [((a.position.x, a.position.y), (b.position.x, b.position.y)) for a, b in pairs]
        out = [_segments(belts, width=1.2, height=0.45, rgb=CONVEYOR_RGB)]
        if agv_paths:
            out.append(
                _segments(_agv_aisles(agv_paths), width=0.8, height=0.06, rgb=AGV_PATH_RGB, extend=0.8)
            )
        return out

    def _add_labels(self, pos: FloatArray, body: FloatArray, max_station_labels: int) -> None:
        # vtkLabeledDataMapper draws static labels for ~0.1 ms each per frame; pyvista's add_point_labels
        # (label placement) costs ~0.6 ms each. Beyond ``max_station_labels`` station labels would overlap
        # into noise anyway: then only lines are labelled (the web panel and picking name the stations).
        if len(self.equipment) <= max_station_labels:
            pts = pos.copy()
            pts[:, 2] += body[:, 2] + 2.4
            self._label_actor(pts, [e.id for e in self.equipment], 11, bold=False, name="station-labels")
        line_pts, line_txt = [], []
        for ln in self.lines:
            # In front of the line's first piece of equipment, on the floor: inside the view, never clipped.
            first = min(ln.equipment, key=lambda e: e.position.x - e.size.x / 2)
            y_front = min(e.position.y - e.size.y / 2 for e in ln.equipment)
            line_pts.append([first.position.x - first.size.x / 2, y_front - 1.8, 0.1])
            line_txt.append(f"{ln.id} ({ln.kind.value})" if ln.name is None else f"{ln.id}: {ln.name}")
        self._label_actor(np.array(line_pts), line_txt, 14, bold=True, name="line-labels", left=True)

    def _label_actor(
        self, pts: FloatArray, texts: list[str], size: int, *, bold: bool, name: str, left: bool = False
    ) -> None:
        data = pv.PolyData(np.asarray(pts, dtype=float))
        names = vtkStringArray()
        names.SetName("label")
        for t in texts:
            names.InsertNextValue(t)
        data.GetPointData().AddArray(names)
        mapper = vtkLabeledDataMapper()
        mapper.SetInputData(data)
        mapper.SetLabelModeToLabelFieldData()
        mapper.SetFieldDataName("label")
        prop = mapper.GetLabelTextProperty()
        prop.SetFontSize(size)
        prop.SetBold(bold)
        prop.SetItalic(False)
        prop.SetShadow(False)
        prop.SetColor(*(c / 255 for c in TEXT_RGB))
        prop.SetBackgroundColor(1.0, 1.0, 1.0)
        prop.SetBackgroundOpacity(0.8)
        if left:
            prop.SetJustificationToLeft()
        else:
            prop.SetJustificationToCentered()
        prop.SetVerticalJustificationToCentered()
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        self.plotter.add_actor(actor, name=name, reset_camera=False)

    def reset_camera(self) -> None:
        """An oblique view from the front (-y) and above that fits the whole floor."""
        x0, x1, y0, y1, _z0, z1 = self.bounds
        c = np.array([(x0 + x1) / 2, (y0 + y1) / 2, 0.0])
        direction = np.array([0.0, -0.8, 1.0])
        direction /= np.linalg.norm(direction)
        cam = self.plotter.camera
        cam.view_angle = 30.0
        cam.focal_point = tuple(c)
        cam.position = tuple(c + direction * 100.0)
        cam.up = (0.0, 0.0, 1.0)
        # ResetCamera fits the bounding sphere (conservative); the floor is flat, so zoom in a bit.
        self.plotter.renderer.ResetCamera(x0, x1, y0, y1, 0.0, z1)
        w, h = self.plotter.window_size
        aspect = w / max(h, 1)
        floor_aspect = (x1 - x0) / max(y1 - y0, 1.0)
        cam.Zoom(1.75 if floor_aspect <= aspect else max(1.0, 1.75 * aspect / floor_aspect))
        self.plotter.renderer.ResetCameraClippingRange()

    # ------------------------------------------------------------------ live updates
    def apply(self, live: LiveState, dirty: set[str] | None = None, now: float | None = None) -> None:
        """Recolour (in place) the equipment in ``dirty`` (all if None) and refresh markers, fills and HUD.

        Only the cells of boxes that changed are rewritten; each call also advances travelling cars by one
        frame (see :attr:`animating`).
        """
        ids = list(self.slots) if dirty is None else [d for d in dirty if d in self.slots]
        moved = False
        changed: list[int] = []  # boxes whose colour was rewritten
        for eq_id in ids:
            slot = self.slots[eq_id]
            i = slot.index
            q = live.quality(eq_id)
            state = live.tag(eq_id, "state")
            self._box_rgb[self._eq_off + i] = state_rgb(state, q)
            changed.append(self._eq_off + i)
            k = self._proc_pos.get(i)
            if k is not None:
                parsed = live.parsed_state(eq_id)
                show = q not in (None, "stale", "bad") and parsed is not None and parsed.value in _HOLDS_PART
                self._box_rgb[self._parts_off + k] = model_rgb(live.tag(eq_id, "model"), self._models)
                changed.append(self._parts_off + k)
                if show != self._parts_shown[k]:
                    self._parts_shown[k] = show
                    src = self._parts_full if show else self._parts_hidden
                    b = 8 * (self._parts_off + k)
                    self._pts[b : b + 8] = src[8 * k : 8 * k + 8]
                    moved = True
                count = live.tag(eq_id, "part_count")
                if isinstance(count, int | float) and not isinstance(count, bool):
                    before = self._last_count.get(eq_id)
                    self._last_count[eq_id] = float(count)
                    if before is not None and count > before and eq_id in self._next_of:
                        changed.append(self._start_travel(eq_id, live.tag(eq_id, "model")))
            kb = self._buf_pos.get(i)
            if kb is not None:
                moved = self._set_fill(kb, slot.equipment.capacity or 1, live.tag(eq_id, "level")) or moved
        moved = self._advance_travellers() or moved
        if dirty is None:
            self._rgb_view[:] = shade(self._box_rgb[self._cell_owner], self._shades)
            self._rgb_vtk.Modified()
        elif changed:
            # Fancy-indexed write of the changed boxes' cells only (FACES cells per box).
            cells = (np.asarray(changed)[:, None] * FACES + np.arange(FACES)[None, :]).ravel()
            self._rgb_view[cells] = shade(self._box_rgb[self._cell_owner[cells]], self._shades[cells])
            self._rgb_vtk.Modified()
        if moved:
            self.mesh.GetPoints().Modified()
        t = now if now is not None else time.monotonic()
        # The HUD sums over all equipment: refresh it at most every HUD_EVERY_S, not every frame.
        if self._hud_actor is not None and (dirty is None or t - self._hud_at >= HUD_EVERY_S):
            self._hud_at = t
            text = hud_text(self, live, now)
            if text != self._hud_text:  # a new text means a new texture: skip it when nothing changed
                self._hud_text = text
                if hasattr(self._hud_actor, "SetText"):  # a corner annotation: corner 2 is upper left
                    self._hud_actor.SetText(2, text)
                else:
                    self._hud_actor.SetInput(text)

    # ------------------------------------------------------------------ travelling cars
    def _downstream(self, top: dict[str, float]) -> dict[str, tuple[FloatArray, FloatArray, FloatArray]]:
        """Route of a car leaving each processing station: (start, corner, end), from the top of the station.

        Flow lines: along the belt to the top of the next equipment (straight; the corner is the midpoint);
        the last station of a line sends it off the line's end. Cells: out to the aisle of the AGV that
        serves the cell, then along the aisle to the AGV.
        """
        by_id = {e.id: e for e in self.equipment}
        nxt: dict[str, str] = {}
        for ln in self.lines:
            if ln.kind != LineKind.CELLS:
                for here, there in zip(ln.equipment[:-1], ln.equipment[1:], strict=True):
                    nxt.setdefault(here.id, there.id)
        agv_of: dict[str, Equipment] = {}
        for edge in self.plant.edges:
            a, b = by_id.get(edge.source), by_id.get(edge.target)
            if a is None or b is None:
                continue
            if edge.kind == EdgeKind.FEEDS and b.type != EquipmentType.AGV:
                nxt.setdefault(a.id, b.id)
            elif edge.kind == EdgeKind.TRANSPORTS and a.type == EquipmentType.AGV:
                agv_of.setdefault(b.id, a)
        exit_dir: dict[str, FloatArray] = {}
        for ln in self.lines:
            if ln.kind != LineKind.CELLS and len(ln.equipment) >= 2:
                a, b = ln.equipment[-2], ln.equipment[-1]
                d = np.array([b.position.x - a.position.x, b.position.y - a.position.y, 0.0])
                if np.linalg.norm(d) > 1e-6:
                    exit_dir[b.id] = d / np.linalg.norm(d)
        out: dict[str, tuple[FloatArray, FloatArray, FloatArray]] = {}
        for e in self.equipment:
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

    def _start_travel(self, eq_id: str, model: Any) -> int:
        """Send a car marker from ``eq_id`` towards its next equipment; returns the marker's box index."""
        k = self._trav_next
        self._trav_next = (k + 1) % self._trav_n
        self._trav_path[k] = self._next_of[eq_id]
        self._trav_step[k] = 0
        self._trav_from[k] = eq_id
        self._box_rgb[self._trav_off + k] = model_rgb(model, self._models)
        return self._trav_off + k

    def _advance_travellers(self) -> bool:
        """Move every travelling car one frame along its route (vectorised); True if any point moved."""
        active = np.flatnonzero(self._trav_step >= 0)
        if not len(active):
            return False
        frac = (self._trav_step[active] + 1) / (TRAVEL_FRAMES + 1)
        path = self._trav_path[active]
        leg1 = np.linalg.norm(path[:, 1] - path[:, 0], axis=1)
        leg2 = np.linalg.norm(path[:, 2] - path[:, 1], axis=1)
        total = np.maximum(leg1 + leg2, 1e-9)
        d = frac * total
        on1 = d <= leg1
        u1 = np.where(on1, d / np.maximum(leg1, 1e-9), 1.0)[:, None]
        u2 = np.where(on1, 0.0, (d - leg1) / np.maximum(leg2, 1e-9))[:, None]
        pos = np.where(on1[:, None], path[:, 0] + u1 * (path[:, 1] - path[:, 0]),
                       path[:, 1] + u2 * (path[:, 2] - path[:, 1]))  # fmt: skip
        # Face along the leg it is on.
        vec = np.where(on1[:, None], path[:, 1] - path[:, 0], path[:, 2] - path[:, 1])
        yaw = np.arctan2(vec[:, 1], vec[:, 0])
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        loc = self._trav_local[active]
        pts = np.stack([loc[:, :, 0] * c - loc[:, :, 1] * s, loc[:, :, 0] * s + loc[:, :, 1] * c,
                        loc[:, :, 2]], axis=2) + pos[:, None, :]  # fmt: skip
        done = self._trav_step[active] + 1 >= TRAVEL_FRAMES
        pts[done] = 0.0  # arrived: collapse
        idx = (8 * (self._trav_off + active))[:, None] + np.arange(8)[None, :]
        self._pts[idx.ravel()] = pts.reshape(-1, 3)
        self._trav_step[active] += 1
        self._trav_step[active[done]] = -1
        for k in active[done]:
            self._trav_from[int(k)] = None
        return True

    @property
    def animating(self) -> bool:
        """True while cars are travelling (a live view should keep rendering frames until it is False)."""
        return bool((self._trav_step >= 0).any())

    def travellers(self) -> list[tuple[str, tuple[float, float, float]]]:
        """Cars on their way: ``(station they left, current centre)``, for tests and tools."""
        out = []
        for k in np.flatnonzero(self._trav_step >= 0):
            b = 8 * (self._trav_off + int(k))
            centre = self._pts[b : b + 8].mean(axis=0)
            out.append((str(self._trav_from[int(k)]), (float(centre[0]), float(centre[1]), float(centre[2]))))
        return out

    def _set_fill(self, k: int, capacity: int, level: Any) -> bool:
        """Move the top of buffer ``k``'s fill column to its level; True if it moved."""
        frac = 0.0
        if isinstance(level, int | float) and not isinstance(level, bool):
            frac = min(max(float(level) / capacity, 0.0), 1.0)
        b = 8 * (self._fill_off + k)
        top = self._fill_base_z[k] + max(frac, 0.02) * self._fill_max_h[k]
        if abs(self._pts[b + 4, 2] - top) < 1e-9:
            return False
        self._pts[b + 4 : b + 8, 2] = top  # corners 4..7 are the top face
        return True

    # ------------------------------------------------------------------ queries
    def project(self, equipment_id: str, where: str = "front") -> tuple[int, int]:
        """Image ``(column, row)`` of an equipment's front-face centre (or ``where="top"``) in a screenshot.

        Uses the renderer's current camera and window size; row 0 is the top of the image.
        """
        slot = self.slots[equipment_id]
        point = slot.front if where == "front" else slot.centre
        ren = self.plotter.renderer
        ren.SetWorldPoint(*point, 1.0)
        ren.WorldToDisplay()
        x, y, _z = ren.GetDisplayPoint()
        height = self.plotter.window_size[1]
        return round(x), round(height - 1 - y)

    def part_shown(self, equipment_id: str) -> bool:
        """True if a car marker is shown on this station."""
        k = self._proc_pos.get(self.slots[equipment_id].index)
        return bool(k is not None and self._parts_shown[k])

    def fill_height(self, equipment_id: str) -> float:
        """Height (m) of a buffer's fill column above its platform (0.02 m when empty)."""
        k = self._buf_pos[self.slots[equipment_id].index]
        return float(self._pts[8 * (self._fill_off + k) + 4, 2] - self._fill_base_z[k])

    def pick(self, point: tuple[float, float, float]) -> str | None:
        """The equipment whose footprint is nearest to a world point (for mouse picking)."""
        best, best_d = None, float("inf")
        for eq_id, slot in self.slots.items():
            d = math.hypot(slot.centre[0] - point[0], slot.centre[1] - point[1])
            if d < best_d:
                best, best_d = eq_id, d
        return best


def hud_text(scene: PlantScene, live: LiveState, now: float | None = None) -> str:
    """The heads-up display: plan version, per-line throughput/cars/energy/states, active alarms."""
    t = now if now is not None else time.time()
    plan = f"plan v{live.plan_version}" if live.plan_version is not None else "no plan yet"
    head = f"{scene.plant.name or scene.plant.id}   {plan}   {time.strftime('%H:%M:%S', time.localtime(t))}"
    if live.time_scale != 1.0:  # rates below are per plant hour, the clock is the wall clock
        head += f"   simulated {live.time_scale:g}x"
    rows = [head]
    total_e = total_p = 0.0
    shown = {ln.id for ln in scene.lines}
    for st in live.line_stats():
        if st.line not in shown:
            continue
        total_e += st.energy_kwh
        total_p += st.power_kw
        tp = f"{st.throughput_per_h:5.1f} cars/h" if st.throughput_per_h is not None else "   -- cars/h"
        worst = [f"{n} {s}" for s, n in sorted(st.states.items()) if s not in ("Running", "-")]
        rows.append(
            f"{st.line:<6} {tp}  {st.parts:>6} cars  {st.energy_kwh:8.1f} kWh  {st.power_kw:6.1f} kW"
            + (f"  [{', '.join(worst)}]" if worst else "")
        )
    rows.append(f"energy {total_e:.1f} kWh   power {total_p:.1f} kW")
    alarms = [a for a in live.alarms() if a[0] in scene.slots]
    if alarms:
        more = f" (+{len(alarms) - 4} more)" if len(alarms) > 4 else ""
        rows.append("ALARMS: " + "; ".join(f"{eq}: {txt}" for eq, txt in alarms[:4]) + more)
    return "\n".join(rows)
