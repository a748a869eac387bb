"""Offscreen rendering of the live twin: a Fault shows red where the station is, and only there."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.viz.pixels import is_fault_red, patch_rgb
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)


def _all_running(store: TwinStore, plant: Plant) -> None:
    now = time.time()
    store.write_changes([(e.id, "state", "Running", "good", now) for e in plant.equipment()], source="test")


def test_fault_is_red_at_the_station_only_until_cleared(store: TwinStore, mini_plant: Plant) -> None:
    from viz.snapshot import OffscreenView

    _all_running(store, mini_plant)
    target, neighbours = "L2-PAINT", ["L2-WELD", "L2-ASSY", "L1-PAINT"]
    with OffscreenView(store, width=800, height=480) as view:
        img = view.frame()
        assert not is_fault_red(patch_rgb(img, *view.scene.project(target)))

        store.write_changes([(target, "state", "Fault", "good", time.time())], source="test")
        img = view.frame()
        assert is_fault_red(patch_rgb(img, *view.scene.project(target)))
        for n in neighbours:
            assert not is_fault_red(patch_rgb(img, *view.scene.project(n))), n

        store.write_changes([(target, "state", "Running", "good", time.time())], source="test")
        img = view.frame()
        assert not is_fault_red(patch_rgb(img, *view.scene.project(target)))


def test_snapshot_file_shows_fault_and_stale(store: TwinStore, mini_plant: Plant, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from twin.palette import STALE_RGB
    from viz.snapshot import OffscreenView, take_snapshot

    _all_running(store, mini_plant)
    store.write_changes([("L1-PAINT", "state", 4, "good", time.time())], source="test")  # Fault by its code
    store.mark_stale(["L1-WELD"])
    out = tmp_path / "snap.png"
    snap = take_snapshot(store, out, width=640, height=400, html_out=tmp_path / "snap.html")
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (400, 640, 3) and snap.stations == len(mini_plant.equipment())
    with OffscreenView(store, width=640, height=400) as view:  # same camera: project positions
        assert is_fault_red(patch_rgb(img, *view.scene.project("L1-PAINT")))
        r, g, b = patch_rgb(img, *view.scene.project("L1-WELD", where="top"))
    # Stale: pale and grey (no hue), brighter than Idle grey.
    assert max(r, g, b) - min(r, g, b) < 12 and min(r, g, b) > 0.8 * STALE_RGB[0]
    report = (tmp_path / "snap.html").read_text()
    assert "data:image/png;base64," in report and "L1-PAINT" in report and "Fault" in report
    assert "http://" not in report and "https://" not in report  # self-contained


def test_live_follower_hud_and_markers(store: TwinStore, mini_plant: Plant) -> None:
    from viz.hud import hud_text
    from viz.live import ChangeFollower
    from viz.snapshot import OffscreenView

    t = time.time()
    store.write_changes(
        [("L1-ASSY", "part_count", 5, "good", t - 120), ("L1-BUF", "level", 0, "good", t - 120)],
        source="test",
    )
    store.write_changes(
        [
            ("L1-ASSY", "part_count", 9, "good", t),
            ("L1-ASSY", "energy_kwh", 12.5, "good", t),
            ("L1-ASSY", "state", "Running", "good", t),
            ("L1-ASSY", "model", "A", "good", t),
            ("L1-BUF", "level", 3, "good", t),
            ("C-1", "alarm", "E-stop pressed", "good", t),
        ],
        source="test",
    )
    # A plant simulated at 60x: 4 cars in 2 wall-clock minutes are 2 cars per plant hour.
    store.set_time_scale(60)
    follower = ChangeFollower(store)
    live = follower.bootstrap()
    assert live.line_parts("L1") == 9
    assert live.time_scale == 60.0 and live.throughput_per_h("L1") == pytest.approx(2.0, rel=1e-3)
    with OffscreenView(store, width=320, height=200) as view:
        view.frame()
        text = hud_text(view.scene, view.live)
        assert "C-1: E-stop pressed" in text and "12.5 kWh" in text
        assert "simulated 60x" in text.splitlines()[0] and "2.0 cars/h" in text
        assert view.scene.part_shown("L1-ASSY")  # a car on the running station
        assert not view.scene.part_shown("L1-WELD")  # no live data: no car
        full = view.scene.fill_height("L1-BUF")
        store.write_changes([("L1-BUF", "level", 1, "good", time.time())], source="test")
        view.frame()
        assert 0 < view.scene.fill_height("L1-BUF") < full  # the fill column went down
