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

__all__ = ["NOTHING_PICKED", "POLL_MS", "DesktopView", "has_display", "run_desktop"]

#: How often the window polls the change stream.
POLL_MS = 250
#: The pick panel's text before a station is clicked.
NOTHING_PICKED = "click a station"


def has_display() -> bool:
    """True if an interactive window can be opened here."""
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_desktop(store: TwinStore, *, line: str | None = None) -> None:
    """Open the window and follow the twin until the window is closed."""
    view = DesktopView(store, line=line)
    try:
        view.plotter.show()
    except RuntimeError as exc:
        raise VizError(f"the 3D window failed: {exc}") from exc


class DesktopView:
    """The interactive window: the scene, a pick panel (lower left) and a timer that follows the twin.

    Left-clicking a station runs vtk's cell picker at the mouse position; the picked surface point is mapped
    to the nearest station, whose tags and recent history go into the panel (:attr:`details`).
    :meth:`click` sends the same mouse events the window gets from the user (for tests and scripting).
    """

    def __init__(
        self, store: TwinStore, *, line: str | None = None, window_size: tuple[int, int] = (1600, 900)
    ):
        if not has_display():
            hint = " (or `xvfb-run twin view`)" if shutil.which("xvfb-run") else ""
            raise NoDisplayError(
                "no display to open a window on (DISPLAY is not set): run `twin view` on a desktop"
                f"{hint}, or use `twin snapshot --out FILE.png` or the web viewer of `twin serve`"
            )
        import pyvista as pv  # late: `twin view` without a display fails fast, before loading vtk

        from viz.live import ChangeFollower
        from viz.scene import PlantScene

        pv.global_theme.multi_samples = 0
        self.follower = ChangeFollower(store)
        self.live = self.follower.bootstrap()
        plant = store.plant()
        self.plotter: Any = pv.Plotter(
            title=f"sdf-twin: {plant.name or store.plant_id}", window_size=list(window_size)
        )
        self.scene = PlantScene(plant, self.plotter, line=line)
        self.scene.apply(self.live, self.live.take_dirty())
        self._info = self.plotter.add_text(
            NOTHING_PICKED, position="lower_left", font_size=9, font="courier", name="pick"
        )
        #: The picked equipment id, and the text shown for it in the panel.
        self.picked: str | None = None
        self.details = NOTHING_PICKED
        self._announced = False
        # A cell picker hits the first surface along the ray (a point picker takes the nearest vertex,
        # which may belong to a box hidden behind the one clicked).
        plotter: Any = self.plotter
        plotter.enable_point_picking(
            callback=self._on_pick, show_message=False, left_clicking=True, show_point=False, picker="cell"
        )
        plotter.add_timer_event(max_steps=10**9, duration=POLL_MS, callback=self.tick)

    def show_details(self, eq_id: str | None) -> None:
        """Put ``eq_id``'s tags and history into the panel (or the hint when None)."""
        self.picked = eq_id
        self.details = describe(self.live, eq_id) if eq_id else NOTHING_PICKED
        if hasattr(self._info, "SetText"):  # a corner annotation: corner 0 is lower left
            self._info.SetText(0, self.details)
        else:
            self._info.SetInput(self.details)

    def _on_pick(self, point: Any, *_: Any) -> None:
        if point is not None:
            self.show_details(self.scene.pick(tuple(point)))

    def tick(self, *_: Any) -> None:
        """Follow the change stream: recolour, move markers, refresh the panel, render."""
        if not self._announced:
            self._announced = True
            print("twin view: window open; close it to exit", file=sys.stderr, flush=True)
        self.follower.poll()
        dirty = self.live.take_dirty()
        self.scene.apply(self.live, dirty)
        if self.picked in dirty:
            self.show_details(self.picked)
        self.plotter.render()

    def click(self, col: int, row: int) -> None:
        """A left click at image position ``(col, row)`` (row 0 at the top), as the window would get it."""
        iren = self.plotter.iren.interactor
        height = self.plotter.window_size[1]
        iren.SetEventInformation(int(col), int(height - 1 - row))
        iren.InvokeEvent("LeftButtonPressEvent")
        iren.InvokeEvent("LeftButtonReleaseEvent")
