"""Offscreen snapshots of the live twin: a PNG, and a self-contained HTML report around it.

The HTML export embeds the PNG (base64) and a table of every station's live state, so it opens offline
and keeps the labels (a vtk.js export would need its viewer scripts and loses server-side text).
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.palette import hex_color, legend_entries, state_rgb
from twin.store import TwinStore
from viz import use_offscreen
from viz.errors import RenderError, VizError

__all__ = ["OffscreenView", "Snapshot", "grab_image", "open_offscreen", "take_snapshot", "write_html_report"]


@dataclass
class Snapshot:
    """What a snapshot wrote."""

    png: Path
    width: int
    height: int
    html: Path | None = None
    stations: int = 0


def open_offscreen(width: int, height: int):  # type: ignore[no-untyped-def]
    """An offscreen pyvista plotter (OSMesa), translating a missing OpenGL library into RenderError."""
    use_offscreen()
    import pyvista as pv

    pv.global_theme.multi_samples = 0
    try:
        return pv.Plotter(off_screen=True, window_size=[width, height])
    except (OSError, RuntimeError) as exc:
        raise RenderError(
            f"cannot render offscreen ({exc}): install OSMesa (Debian: apt-get install libosmesa6)"
        ) from exc


def grab_image(plotter: Any) -> Any:
    """Render a frame and return it as an ``height x width x 3`` uint8 array (row 0 at the top).

    Renders through the render window (pyvista's ``render()`` does nothing before a first ``show()``)
    and reads the front buffer straight into numpy, several times faster than
    ``plotter.screenshot(return_img=True)`` (an image filter, RGBA, then a flipped copy; figures in
    viz/README.md). The result is a flipped view, not a copy.
    """
    import numpy as np
    from vtkmodules.vtkCommonCore import vtkUnsignedCharArray

    w, h = plotter.window_size
    plotter.render_window.Render()
    buf = vtkUnsignedCharArray()
    plotter.render_window.GetPixelData(0, 0, w - 1, h - 1, 1, buf, 0)
    return np.asarray(buf).reshape(h, w, 3)[::-1]


class OffscreenView:
    """A live offscreen view of the twin: follows the change stream and renders frames on demand.

    ``frame()`` applies every change that arrived since the last frame and returns the image
    (``height x width x 3`` uint8); :attr:`scene` can project equipment to image positions.
    """

    def __init__(
        self, store: TwinStore, *, line: str | None = None, width: int = 1600, height: int = 900
    ) -> None:
        if width < 64 or height < 64 or width > 8192 or height > 8192:
            raise VizError(f"image size {width}x{height} is out of range (64..8192 pixels each way)")
        use_offscreen()
        from viz.live import ChangeFollower
        from viz.scene import PlantScene

        self.store = store
        self.follower = ChangeFollower(store)
        self.live = self.follower.bootstrap()
        self.plotter = open_offscreen(width, height)
        try:
            self.scene = PlantScene(store.plant(), self.plotter, line=line)
        except BaseException:
            self.plotter.close()
            raise
        self.width, self.height = width, height

    def frame(self, block_ms: int | None = None) -> Any:
        """Apply new changes, render, and return the image as a numpy array."""
        self.follower.poll(block_ms)
        self.scene.apply(self.live, self.live.take_dirty())
        return grab_image(self.plotter)

    def save(self, out: Path) -> None:
        """Render the current state into a PNG file."""
        self.scene.apply(self.live, self.live.take_dirty())
        self.plotter.render()
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.plotter.screenshot(str(out))
        except OSError as exc:
            raise VizError(f"cannot write {out}: {exc}") from exc

    def close(self) -> None:
        """Release the render window."""
        self.plotter.close()

    def __enter__(self) -> OffscreenView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def take_snapshot(
    store: TwinStore,
    out: Path,
    *,
    line: str | None = None,
    width: int = 1600,
    height: int = 900,
    html_out: Path | None = None,
) -> Snapshot:
    """Render the live twin (or one line) offscreen into ``out`` (PNG); optionally an HTML report too."""
    with OffscreenView(store, line=line, width=width, height=height) as view:
        view.save(out)
        if html_out is not None:
            write_html_report(store, view.live, view.scene.equipment, out, html_out)
        return Snapshot(out, width, height, html_out, len(view.scene.equipment))


def write_html_report(store: TwinStore, live, equipment, png: Path, html_out: Path) -> None:  # type: ignore[no-untyped-def]
    """A single self-contained HTML file: the snapshot image, the legend and a station table."""
    img = base64.b64encode(png.read_bytes()).decode()
    plant = store.plant()
    rows = []
    for e in equipment:
        q = live.quality(e.id)
        rgb = state_rgb(live.tag(e.id, "state"), q)
        cells = [
            e.line, e.id, e.type.value, live.state_name(e.id), q or "no data",
            live.tag(e.id, "model"), live.tag(e.id, "part_count"), live.tag(e.id, "level"),
            live.tag(e.id, "energy_kwh"), live.tag(e.id, "alarm"),
        ]  # fmt: skip
        tds = "".join(f"<td>{html.escape('' if c is None else str(c))}</td>" for c in cells)
        rows.append(f'<tr><td style="background:{hex_color(rgb)}">&nbsp;</td>{tds}</tr>')
    legend = "".join(
        f'<span class="chip" style="background:{hex_color(rgb)}"></span>{html.escape(name)} &nbsp; '
        for name, rgb in legend_entries()
    )
    head = ["", "line", "id", "type", "state", "quality", "model", "parts", "level", "energy kWh", "alarm"]
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(plant.name or plant.id)} snapshot</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left}}.chip{{display:inline-block;width:1em;
height:1em;vertical-align:middle;margin-right:.3em;border:1px solid #888}}img{{max-width:100%}}</style>
</head><body>
<h1>{html.escape(plant.name or plant.id)}</h1>
<p>Snapshot {time.strftime("%Y-%m-%d %H:%M:%S")}; plan version {live.plan_version or "-"}.</p>
<img alt="3D view of the plant" src="data:image/png;base64,{img}">
<p>{legend}</p>
<table><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>
{chr(10).join(rows)}
</table></body></html>
"""
    html_out.parent.mkdir(parents=True, exist_ok=True)
    html_out.write_text(doc, encoding="utf-8")
