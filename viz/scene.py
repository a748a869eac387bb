"""The 3D scene of a plant: built once from its layout, then recoloured in place.

All equipment is ONE merged mesh of boxes (8 points, 5 quads each) with a per-cell RGB array; a live update
writes new colours into that array (and moves a few points for car markers and buffer fill levels) and
marks it modified, so a frame costs one render, never a rebuild. The floor grid, the text over the scene
(:mod:`viz.hud`) and the camera are set up once. Where things go comes from :mod:`twin.layout`; the car
markers' motion from :mod:`viz.travellers`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvista as pv

from twin.errors import NotFoundError
from twin.layout import BoxArrays, FloatArray, Placement, Point, box_points, plant_layout
from twin.model import Plant
from twin.palette import (
    AGV_PATH_RGB,
    CONVEYOR_RGB,
    FILL_RGB,
    FLOOR_RGB,
    GRID_RGB,
    RGB,
    STALE_RGB,
    hex_color,
    model_rgb,
    state_rgb,
)
from viz.errors import VizError
from viz.hud import Hud, add_labels, add_legend
from viz.live import LiveState
from viz.travellers import HOLDS_PART, MAX_TRAVELLERS, StationCars, Travellers

__all__ = ["FACES", "PlantScene", "box_mesh", "face_shades", "shade"]

pv.global_theme.multi_samples = 0  # MSAA is 4-6x slower in software OpenGL
pv.global_theme.allow_empty_mesh = True

# The 5 outward-facing quads of a box (no bottom: it is never seen from above the floor, and vertices are
# what software OpenGL pays for at 2,000 stations), over the corners of :func:`twin.layout.box_points`.
_QUADS = np.array([[4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])
FACES = len(_QUADS)
# Baked lighting: direction towards the light, and the ambient/diffuse weights.
_LIGHT = np.array([-0.35, -0.8, 1.0])
_AMBIENT, _DIFFUSE = 0.62, 0.42


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

    def add(self, boxes: BoxArrays, rgb: RGB) -> int:
        first = self.count
        n = len(boxes)
        if n:
            self._base.append(np.asarray(boxes.base, dtype=float).reshape(n, 3))
            self._size.append(np.asarray(boxes.size, dtype=float).reshape(n, 3))
            self._yaw.append(np.asarray(boxes.yaw, dtype=float).reshape(n))
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
        try:
            self.layout = plant_layout(plant, line)
        except NotFoundError as exc:  # a --line the plant does not have: the viewer's error, same message
            raise VizError(str(exc)) from exc
        self.lines = self.layout.lines
        self.equipment = self.layout.equipment
        self.slots: dict[str, Placement] = self.layout.placements
        self.bounds = self.layout.bounds
        self._models = [m.id for m in plant.models]
        self._proc_pos = {int(i): k for k, i in enumerate(self.layout.processing)}
        self._buf_pos = {int(i): k for k, i in enumerate(self.layout.buffers)}
        self._hud: Hud | None = None
        self._build_mesh()
        self._add_grid()
        if labels:
            add_labels(self.plotter, self.layout, max_station_labels)
        if legend:
            add_legend(self.plotter, self._models)
        if hud:
            self._hud = Hud(self.plotter)
        self.reset_camera()

    # ------------------------------------------------------------------ building
    def _build_mesh(self) -> None:
        """Everything solid as ONE merged mesh of boxes, in this order: equipment bodies, part markers,
        buffer fill columns, travelling cars, conveyor belts, AGV aisles. Colours are per box
        (``_box_rgb``), expanded to the cells with baked shading; live updates write colours and a few
        points in place."""
        lay = self.layout
        boxes = _Boxes()
        self._eq_off = boxes.add(lay.bodies, STALE_RGB)
        self._cars = StationCars(boxes.add(lay.parts, model_rgb(None, self._models)), lay.parts)
        self._fill_off = boxes.add(lay.fills, FILL_RGB)
        self._fill_base_z = lay.fills.base[:, 2]
        nt = min(MAX_TRAVELLERS, len(lay.routes))
        self._travellers = Travellers(lay.routes, boxes.add(Travellers.boxes(nt), STALE_RGB), nt)
        boxes.add(lay.belts, CONVEYOR_RGB)
        boxes.add(lay.aisles, AGV_PATH_RGB)

        self.mesh = boxes.mesh()
        self._box_rgb = boxes.rgb
        self._cell_owner = np.repeat(np.arange(len(self._box_rgb)), FACES)
        self._shades = face_shades(boxes.yaw)
        self.mesh.cell_data["rgb"] = shade(self._box_rgb[self._cell_owner], self._shades)
        # Back faces are never seen on closed boxes: culling them saves ~20-35% of the fill in software GL.
        self.plotter.add_mesh(
            self.mesh, scalars="rgb", rgb=True, lighting=False, culling="back", name="equipment"
        )
        self._rgb_vtk = self.mesh.GetCellData().GetArray("rgb")
        self._rgb_view = np.asarray(self.mesh.cell_data["rgb"])  # views on the VTK arrays
        self._pts = np.asarray(self.mesh.points)
        self._cars.bind(self._pts)
        self._travellers.bind(self._pts)

    def _add_grid(self) -> None:
        # No floor polygon: the background is the floor colour and the grid marks the hall. A full-window
        # quad is pure fill cost in software OpenGL (~15-25 ms per frame at 1280x720 here).
        self.plotter.set_background(hex_color(FLOOR_RGB))
        pts = self.layout.grid
        grid = pv.PolyData(pts, lines=np.hstack([[2, 2 * k, 2 * k + 1] for k in range(len(pts) // 2)]))
        self.plotter.add_mesh(grid, color=hex_color(GRID_RGB), line_width=1, lighting=False, name="grid")

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
            moved = self._update(live, self.slots[eq_id], changed) or moved
        moved = self._travellers.advance() or moved
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
        if self._hud is not None:
            self._hud.refresh(self, live, now, force=dirty is None)

    def _update(self, live: LiveState, slot: Placement, changed: list[int]) -> bool:
        """New colours (boxes appended to ``changed``) and markers of one piece of equipment; True if any
        point moved."""
        eq_id, i = slot.equipment.id, slot.index
        q = live.quality(eq_id)
        self._box_rgb[self._eq_off + i] = state_rgb(live.tag(eq_id, "state"), q)
        changed.append(self._eq_off + i)
        moved = False
        k = self._proc_pos.get(i)
        if k is not None:
            parsed = live.parsed_state(eq_id)
            show = q not in (None, "stale", "bad") and parsed is not None and parsed.value in HOLDS_PART
            self._box_rgb[self._cars.first + k] = model_rgb(live.tag(eq_id, "model"), self._models)
            changed.append(self._cars.first + k)
            moved = self._cars.show(k, show)
            box = self._travellers.counted(eq_id, live.tag(eq_id, "part_count"))
            if box is not None:
                self._box_rgb[box] = model_rgb(live.tag(eq_id, "model"), self._models)
                changed.append(box)
        kb = self._buf_pos.get(i)
        if kb is not None:
            moved = self._set_fill(kb, slot.equipment.capacity or 1, live.tag(eq_id, "level")) or moved
        return moved

    def _set_fill(self, k: int, capacity: int, level: Any) -> bool:
        """Move the top of buffer ``k``'s fill column to its level; True if it moved."""
        frac = 0.0
        if isinstance(level, int | float) and not isinstance(level, bool):
            frac = min(max(float(level) / capacity, 0.0), 1.0)
        b = 8 * (self._fill_off + k)
        top = self._fill_base_z[k] + max(frac, 0.02) * self.layout.fill_max_h[k]
        if abs(self._pts[b + 4, 2] - top) < 1e-9:
            return False
        self._pts[b + 4 : b + 8, 2] = top  # corners 4..7 are the top face
        return True

    @property
    def animating(self) -> bool:
        """True while cars are travelling (a live view should keep rendering frames until it is False)."""
        return self._travellers.animating

    def travellers(self) -> list[tuple[str, Point]]:
        """Cars on their way: ``(station they left, current centre)``, for tests and tools."""
        return self._travellers.positions()

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
        return bool(k is not None and self._cars.shown[k])

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
