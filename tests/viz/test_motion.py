"""Cars travelling between stations: a part counter going up sends a car marker down the belt / AGV aisle."""

from __future__ import annotations

import colorsys
import time

import pytest

from tests.viz.pixels import patch_rgb
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)


def _is_model_a_blue(rgb: tuple[float, float, float]) -> bool:
    """The palette's first car-model colour (blue #0072B2, hue ~202 deg), however it is shaded."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return 190 <= h * 360 <= 215 and s > 0.6 and v > 0.3


def _start(store: TwinStore, plant: Plant) -> None:
    t = time.time()
    store.write_changes(
        [
            (e.id, tag, v, "good", t)
            for e in plant.equipment()
            for tag, v in (("state", "Idle"), ("part_count", 0))
        ],
        source="test",
    )


def test_a_finished_car_travels_to_the_next_station_and_arrives(store: TwinStore, mini_plant: Plant) -> None:
    from viz.snapshot import OffscreenView
    from viz.travellers import CAR_SIZE, TRAVEL_FRAMES

    _start(store, mini_plant)
    with OffscreenView(store, width=800, height=480) as view:
        view.frame()
        assert view.scene.travellers() == [] and not view.scene.animating  # first counts: nothing moves

        store.write_changes(
            [
                ("L1-WELD", "part_count", 1, "good", time.time()),
                ("L1-WELD", "model", "A", "good", time.time()),
            ],
            source="test",
        )
        view.frame()
        (src, (x, y, z)), *rest = view.scene.travellers()
        assert src == "L1-WELD" and not rest and view.scene.animating
        assert 0.0 < x < 6.0 and abs(y) < 1e-6 and z > 0.4  # on its way to L1-BUF (x = 6)
        xs, seen = [x], False
        for _ in range(TRAVEL_FRAMES - 1):
            img = view.frame()
            moving = view.scene.travellers()
            if not moving:
                continue
            x, y, z = moving[0][1]
            xs.append(x)
            if 2.3 < x < 4.0:  # between the station (x <= 2) and the buffer (x >= 4.5): in full view
                # The marker is drawn there, in the car model's colour (centre of its front face).
                ren = view.plotter.renderer
                ren.SetWorldPoint(x, y - CAR_SIZE[1] / 2, z, 1.0)
                ren.WorldToDisplay()
                dx, dy, _ = ren.GetDisplayPoint()
                assert _is_model_a_blue(patch_rgb(img, round(dx), round(view.height - 1 - dy), radius=1))
                seen = True
        assert seen
        assert xs == sorted(xs) and len(set(xs)) == len(xs)  # it moves forward every frame
        assert not view.scene.animating and view.scene.travellers() == []  # arrived: gone


def test_cars_leave_cells_along_the_agv_aisle_and_the_line_end(store: TwinStore, mini_plant: Plant) -> None:
    from viz.snapshot import OffscreenView

    _start(store, mini_plant)
    with OffscreenView(store, width=320, height=200) as view:
        view.frame()
        t = time.time()
        store.write_changes(
            [("C-2", "part_count", 1, "good", t), ("L2-ASSY", "part_count", 3, "good", t)], source="test"
        )
        view.frame()
        where = dict(view.scene.travellers())
        assert set(where) == {"C-2", "L2-ASSY"}
        # C-2 (8, 20) first heads out to the AGV aisle (y = 24 of C-AGV), straight up from the cell.
        cx, cy, _ = where["C-2"]
        assert abs(cx - 8.0) < 1e-6 and 20.0 < cy <= 24.0
        # L2-ASSY is the last station of L2: the finished car rolls off the line's end (+x).
        lx, ly, _ = where["L2-ASSY"]
        assert lx > 12.0 and abs(ly - 10.0) < 1e-6
        for _ in range(8):
            view.frame()
        assert not view.scene.animating
