"""``twin bench viewer``: frame time of live colour updates against rebuilding the scene each frame.

For generated plants of 20, 200 and 2,000 stations, loaded into a real Redis: each frame some stations
change state through ``TwinStore.write_changes`` (not timed); the timed part is what the viewer does per
frame: read the change stream, apply it, recolour the merged mesh in place, render and grab the image.
The baseline, measured in the same run, does the same but rebuilds the whole scene every frame (what a
viewer without in-place updates does). Also: time to the first frame and peak resident memory.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import psutil

from twin.config import plant_from_data
from twin.generate import generate_plant
from twin.model import Plant, StationState
from twin.store import TwinStore
from viz import use_offscreen

__all__ = ["SIZES", "bench_plant", "bench_size", "run_viewer_bench"]

#: (lines, stations per line) of the benchmarked plants.
SIZES: tuple[tuple[int, int], ...] = ((2, 10), (10, 20), (40, 50))
_STATES = [s.value for s in StationState]


def bench_plant(lines: int, per_line: int) -> Plant:
    """A generated plant of ``lines x per_line`` stations with a bench-specific id."""
    data = generate_plant(lines=lines, stations=per_line, tags=7, seed=1)
    data["id"] = f"benchviz{lines * per_line}"
    return plant_from_data(data, source="<bench viewer>")


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 1e6


def _churn(
    store: TwinStore,
    plant: Plant,
    rng: random.Random,
    counts: dict[str, int],
    share: float = 0.05,
    finish_share: float = 0.01,
) -> None:
    """Change the state of a share of the stations (at least one), as a PLC publish cycle would, and let
    a smaller share finish a car (part counter + 1: a car marker starts travelling to the next station)."""
    eqs = plant.equipment()
    picked = rng.sample(eqs, max(1, int(len(eqs) * share)))
    now = time.time()
    changes: list[tuple[str, str, Any, str, float]] = [
        (e.id, "state", rng.choice(_STATES), "good", now) for e in picked
    ]
    for e in rng.sample(eqs, max(1, int(len(eqs) * finish_share))):
        counts[e.id] = counts.get(e.id, 0) + 1
        changes.append((e.id, "part_count", counts[e.id], "good", now))
    store.write_changes(changes, source="bench")


def bench_size(
    store: TwinStore, plant: Plant, *, frames: int, rebuild_frames: int, width: int, height: int
) -> dict[str, Any]:
    """Measure one plant size; returns one ``frames`` row plus its first-frame time."""
    from viz.live import ChangeFollower
    from viz.scene import PlantScene
    from viz.snapshot import grab_image, open_offscreen

    rng = random.Random(7)
    now = time.time()
    counts = {e.id: 0 for e in plant.equipment()}
    store.write_changes(
        [
            (e.id, tag, v, "good", now)
            for e in plant.equipment()
            for tag, v in (("state", "Running"), ("part_count", 0))
        ],
        source="bench",
    )
    t0 = time.perf_counter()
    follower = ChangeFollower(store)
    live = follower.bootstrap()
    plotter = open_offscreen(width, height)
    peak = _rss_mb()
    try:
        scene = PlantScene(plant, plotter)
        scene.apply(live, live.take_dirty())
        grab_image(plotter)
        first_frame_s = time.perf_counter() - t0
        update: list[float] = []
        update_cpu: list[float] = []
        travelling = 0
        for _ in range(frames):
            _churn(store, plant, rng, counts)
            t, c = time.perf_counter(), time.process_time()
            follower.poll()
            scene.apply(live, live.take_dirty())
            grab_image(plotter)
            travelling = max(travelling, len(scene.travellers()))
            update.append((time.perf_counter() - t) * 1000)
            update_cpu.append((time.process_time() - c) * 1000)
            peak = max(peak, _rss_mb())
        rebuild: list[float] = []
        rebuild_cpu: list[float] = []
        for _ in range(rebuild_frames):
            _churn(store, plant, rng, counts)
            t, c = time.perf_counter(), time.process_time()
            follower.poll()
            live.take_dirty()
            plotter.clear()
            scene = PlantScene(plant, plotter)
            scene.apply(live)
            grab_image(plotter)
            rebuild.append((time.perf_counter() - t) * 1000)
            rebuild_cpu.append((time.process_time() - c) * 1000)
            peak = max(peak, _rss_mb())
    finally:
        plotter.close()
    upd, reb = statistics.median(update), statistics.median(rebuild)
    return {
        "stations": len(plant.equipment()),
        "update_ms": round(upd, 2),
        "update_p90_ms": round(sorted(update)[int(0.9 * (len(update) - 1))], 2),
        "rebuild_ms": round(reb, 2),
        "speedup": round(reb / upd, 1) if upd > 0 else None,
        # CPU time of this process (all render threads) per frame: less sensitive to a busy machine.
        "update_cpu_ms": round(statistics.median(update_cpu), 2),
        "rebuild_cpu_ms": round(statistics.median(rebuild_cpu), 2),
        "first_frame_s": round(first_frame_s, 3),
        "update_frames": len(update),
        "cars_travelling_max": travelling,
        "rebuild_frames": len(rebuild),
        "peak_rss_mb": round(peak, 1),
    }


def run_viewer_bench(
    store_for: Callable[[Plant], TwinStore],
    *,
    quick: bool = False,
    width: int = 1280,
    height: int = 720,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the viewer benchmark; ``store_for(plant)`` returns a store with that plant loaded."""
    use_offscreen()
    rows = []
    for lines, per_line in SIZES:
        n = lines * per_line
        frames = (10 if quick else 40) if n <= 200 else (6 if quick else 20)
        rebuild_frames = 3 if quick or n > 200 else 5
        if progress:
            progress(f"viewer bench: {n} stations ({frames} update frames, {rebuild_frames} rebuilds)")
        plant = bench_plant(lines, per_line)
        store = store_for(plant)
        rows.append(
            bench_size(store, plant, frames=frames, rebuild_frames=rebuild_frames, width=width, height=height)
        )
    at200 = next(r for r in rows if r["stations"] == 200)
    return {
        "frames": rows,
        "first_frame_s": at200["first_frame_s"],
        "first_frame_stations": 200,
        "peak_rss_mb": round(max(max(r["peak_rss_mb"] for r in rows), _rss_mb()), 1),
        "window": [width, height],
        "update": "read change stream + recolour changed cells of the merged mesh in place + move travelling "
        "car markers + render + grab image (median wall ms; *_cpu_ms: process CPU incl. render threads)",
        "baseline": "same, but the whole scene is rebuilt every frame (median)",
        "targets": {"update_ms_200": 40, "update_ms_2000": 80, "first_frame_s": 2, "peak_rss_mb": 500},
        "quick": quick,
        # Software rendering shares the CPU: the load at the end tells how busy the machine was.
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
