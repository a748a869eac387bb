"""``twin view``: the live twin in an interactive desktop window.

Left-click a station to show its live tags and recent history in the lower-left corner; the scene follows
the change stream on a 250 ms timer. Needs a display (on Linux ``DISPLAY`` or ``WAYLAND_DISPLAY``); without
one it fails with a clear message (``xvfb-run twin view`` runs it on a virtual display).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from twin.store import TwinStore
from viz.errors import NoDisplayError, VizError
from viz.live import describe

#: How often the window polls the change stream.
POLL_MS = 250


def has_display() -> bool:
    """True if an interactive window can be opened here."""
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_desktop(store: TwinStore, *, line: str | None = None) -> None:
    """Open the window and follow the twin until the window is closed."""
    if not has_display():
        hint = " (or `xvfb-run twin view`)" if shutil.which("xvfb-run") else ""
        raise NoDisplayError(
            "no display to open a window on (DISPLAY is not set): run `twin view` on a desktop"
            f"{hint}, or use `twin snapshot --out FILE.png` or the web viewer of `twin serve`"
        )
    try:
        import pyvista as pv
    except ImportError as exc:  # pragma: no cover - a broken install
        raise VizError(f"pyvista is not installed: {exc}") from exc
    from viz.live import ChangeFollower
    from viz.scene import PlantScene

    pv.global_theme.multi_samples = 0
    follower = ChangeFollower(store)
    live = follower.bootstrap()
    plotter: Any = pv.Plotter(
        title=f"sdf-twin: {store.plant().name or store.plant_id}", window_size=[1600, 900]
    )
    scene = PlantScene(store.plant(), plotter, line=line)
    scene.apply(live, live.take_dirty())
    info = plotter.add_text(
        "click a station", position="lower_left", font_size=9, font="courier", name="pick"
    )
    picked: dict[str, str | None] = {"id": None}
    announced: list[bool] = []

    def show(eq_id: str | None) -> None:
        picked["id"] = eq_id
        text = describe(live, eq_id) if eq_id else "click a station"
        if hasattr(info, "SetText"):
            info.SetText(0, text)
        else:
            info.SetInput(text)

    def on_pick(point: Any, *_: Any) -> None:
        if point is not None:
            show(scene.pick(tuple(point)))

    def tick(*_: Any) -> None:
        if not announced:
            announced.append(True)
            print("twin view: window open; close it to exit", file=sys.stderr, flush=True)
        follower.poll()
        dirty = live.take_dirty()
        scene.apply(live, dirty)
        if picked["id"] in dirty:
            show(picked["id"])
        plotter.render()

    plotter.enable_point_picking(callback=on_pick, show_message=False, left_clicking=True, show_point=False)
    plotter.add_timer_event(max_steps=10**9, duration=POLL_MS, callback=tick)
    try:
        plotter.show()
    except RuntimeError as exc:
        raise VizError(f"the 3D window failed: {exc}") from exc
