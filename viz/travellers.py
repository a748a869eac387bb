"""Car markers in the scene: the car a station holds, and cars travelling to the next equipment.

Both are boxes inside the scene's one merged mesh; showing, hiding and moving them only rewrites their
points (a view on the mesh's VTK points, handed over by :meth:`bind`), so nothing is ever rebuilt.

* :class:`StationCars`: a car-sized box on each processing station, collapsed onto its base centre while
  the station holds no car.
* :class:`Travellers`: a fixed pool of car boxes. When a station's part counter goes up (a car left it),
  one is sent along the station's route (:attr:`twin.layout.Layout.routes`) over :data:`TRAVEL_FRAMES`
  frames, then collapsed again; the oldest is recycled when more than :data:`MAX_TRAVELLERS` start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from twin.layout import CAR_SIZE, HOLDS_PART, BoxArrays, FloatArray, Point, Route

__all__ = ["CAR_SIZE", "HOLDS_PART", "MAX_TRAVELLERS", "TRAVEL_FRAMES", "StationCars", "Travellers"]

#: Frames a car takes to travel from a station to the next equipment (4 fps in the browser: ~1.5 s).
TRAVEL_FRAMES = 6
#: Most cars shown travelling at once (the oldest is recycled when more start).
MAX_TRAVELLERS = 48


class StationCars:
    """The part markers of the processing stations: boxes ``first .. first + n - 1`` of the mesh."""

    def __init__(self, first: int, boxes: BoxArrays) -> None:
        self.first = first
        self.base = boxes.base
        self.shown = np.zeros(len(boxes), dtype=bool)
        self._pts: FloatArray = np.zeros((0, 3))
        self._full: FloatArray = np.zeros((0, 3))
        self._hidden: FloatArray = np.zeros((0, 3))

    def bind(self, points: FloatArray) -> None:
        """Take the mesh's points; remember each marker's full shape and collapse it (hidden at start)."""
        self._pts = points
        sl = slice(8 * self.first, 8 * (self.first + len(self.shown)))
        self._full = points[sl].copy()
        self._hidden = np.repeat(self.base, 8, axis=0)
        points[sl] = self._hidden

    def show(self, k: int, shown: bool) -> bool:
        """Show or hide marker ``k``; True if its points moved."""
        if shown == self.shown[k]:
            return False
        self.shown[k] = shown
        src = self._full if shown else self._hidden
        b = 8 * (self.first + k)
        self._pts[b : b + 8] = src[8 * k : 8 * k + 8]
        return True


class Travellers:
    """A pool of travelling car boxes ``first .. first + count - 1`` of the mesh."""

    def __init__(self, routes: dict[str, Route], first: int, count: int) -> None:
        self.routes = routes
        self.first = first
        self.count = count
        self._step = np.full(count, -1, dtype=int)  # -1: idle; else frames travelled so far
        self._path = np.zeros((count, 3, 3))  # start, corner, end of each route (two legs)
        self._from: list[str | None] = [None] * count
        self._next = 0
        self._last_count: dict[str, float] = {}
        self._pts: FloatArray = np.zeros((0, 3))
        self._local: FloatArray = np.zeros((count, 8, 3))

    @staticmethod
    def boxes(count: int) -> BoxArrays:
        """The pool's boxes as first added to the mesh: car-sized, at the origin, yaw 0."""
        return BoxArrays(np.zeros((count, 3)), np.tile(CAR_SIZE, (count, 1)), np.zeros(count))

    def bind(self, points: FloatArray) -> None:
        """Take the mesh's points; remember the car shape (at the origin) and collapse the whole pool."""
        self._pts = points
        ts = slice(8 * self.first, 8 * (self.first + self.count))
        self._local = points[ts].copy().reshape(self.count, 8, 3)
        points[ts] = 0.0  # collapsed (degenerate faces draw nothing)

    def counted(self, eq_id: str, count: Any) -> int | None:
        """A station's part counter was read: if it went up, send a car on; returns the car's box index."""
        if not isinstance(count, int | float) or isinstance(count, bool):
            return None
        before = self._last_count.get(eq_id)
        self._last_count[eq_id] = float(count)
        if before is not None and count > before and eq_id in self.routes:
            return self._start(eq_id)
        return None

    def _start(self, eq_id: str) -> int:
        k = self._next
        self._next = (k + 1) % self.count
        self._path[k] = self.routes[eq_id]
        self._step[k] = 0
        self._from[k] = eq_id
        return self.first + k

    def advance(self) -> bool:
        """Move every travelling car one frame along its route (vectorised); True if any point moved."""
        active = np.flatnonzero(self._step >= 0)
        if not len(active):
            return False
        pos, yaw = _along(self._path[active], (self._step[active] + 1) / (TRAVEL_FRAMES + 1))
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        loc = self._local[active]
        pts = np.stack([loc[:, :, 0] * c - loc[:, :, 1] * s, loc[:, :, 0] * s + loc[:, :, 1] * c,
                        loc[:, :, 2]], axis=2) + pos[:, None, :]  # fmt: skip
        done = self._step[active] + 1 >= TRAVEL_FRAMES
        pts[done] = 0.0  # arrived: collapse
        idx = (8 * (self.first + active))[:, None] + np.arange(8)[None, :]
        self._pts[idx.ravel()] = pts.reshape(-1, 3)
        self._step[active] += 1
        self._step[active[done]] = -1
        for k in active[done]:
            self._from[int(k)] = None
        return True

    @property
    def animating(self) -> bool:
        """True while cars are travelling."""
        return bool((self._step >= 0).any())

    def positions(self) -> list[tuple[str, Point]]:
        """Cars on their way: ``(station they left, current centre)``."""
        out = []
        for k in np.flatnonzero(self._step >= 0):
            b = 8 * (self.first + int(k))
            centre = self._pts[b : b + 8].mean(axis=0)
            out.append((str(self._from[int(k)]), (float(centre[0]), float(centre[1]), float(centre[2]))))
        return out


def _along(path: FloatArray, frac: npt.NDArray[np.float64]) -> tuple[FloatArray, FloatArray]:
    """Points a fraction ``frac`` of the way along two-leg routes ``(n, 3, 3)``, and the yaw (radians) of
    the leg each is on (a car faces along the leg it is on)."""
    leg1 = np.linalg.norm(path[:, 1] - path[:, 0], axis=1)
    leg2 = np.linalg.norm(path[:, 2] - path[:, 1], axis=1)
    total = np.maximum(leg1 + leg2, 1e-9)
    d = frac * total
    on1 = d <= leg1
    u1 = np.where(on1, d / np.maximum(leg1, 1e-9), 1.0)[:, None]
    u2 = np.where(on1, 0.0, (d - leg1) / np.maximum(leg2, 1e-9))[:, None]
    pos = np.where(on1[:, None], path[:, 0] + u1 * (path[:, 1] - path[:, 0]),
                   path[:, 1] + u2 * (path[:, 2] - path[:, 1]))  # fmt: skip
    vec = np.where(on1[:, None], path[:, 1] - path[:, 0], path[:, 2] - path[:, 1])
    return pos, np.arctan2(vec[:, 1], vec[:, 0])
