"""Text and keys drawn over the 3D scene: the heads-up display, the legend, line and station labels.

:func:`hud_text` is the HUD's content (plan version, per-line cars/h, cars, energy, power, states, alarms);
:class:`Hud` shows it in the upper-left corner and re-sets it at most every :data:`HUD_EVERY_S` during live
updates, and only when it changed (a new text is a new texture). :func:`add_legend` and
:func:`add_labels` add the static 2D actors once, when the scene is built.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkStringArray
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCoordinate, vtkPolyDataMapper2D
from vtkmodules.vtkRenderingLabel import vtkLabeledDataMapper

from twin.layout import FloatArray, Layout
from twin.palette import RGB, TEXT_RGB, hex_color, legend_entries, model_rgb
from viz.live import LiveState

if TYPE_CHECKING:
    from viz.scene import PlantScene

__all__ = ["HUD_EVERY_S", "Hud", "add_labels", "add_legend", "hud_text"]

#: Shortest interval between two HUD refreshes during live updates.
HUD_EVERY_S = 1.0


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


class Hud:
    """The HUD text actor in the upper-left corner of ``plotter``."""

    def __init__(self, plotter: Any) -> None:
        self._actor = plotter.add_text(
            "", position="upper_left", font_size=10, color=hex_color(TEXT_RGB), font="courier", name="hud"
        )
        self._at = -1e18
        self._text = ""

    def refresh(self, scene: PlantScene, live: LiveState, now: float | None, *, force: bool) -> None:
        """Re-set the text if ``force`` or :data:`HUD_EVERY_S` has passed (``now``, else the monotonic
        clock), and only if it changed: the HUD sums over all equipment, so not every frame."""
        t = now if now is not None else time.monotonic()
        if not force and t - self._at < HUD_EVERY_S:
            return
        self._at = t
        text = hud_text(scene, live, now)
        if text != self._text:  # a new text means a new texture: skip it when nothing changed
            self._text = text
            if hasattr(self._actor, "SetText"):  # a corner annotation: corner 2 is upper left
                self._actor.SetText(2, text)
            else:
                self._actor.SetInput(text)


def add_legend(plotter: Any, models: list[str]) -> None:
    """Station-state colours and car-model colours, as chips right of their names at the right edge.

    Own legend: vtkLegendBoxActor draws the text in the entry colour, unreadable for pale ones. It is
    anchored to the right edge (text right-aligned, chips right of it) so it fits any window width.
    """
    rows: list[tuple[str, RGB | None]] = [("station state", None), *legend_entries()]
    if models:
        rows += [("", None), ("car model", None)]
        rows += [(m, model_rgb(m, models)) for m in models[:6]]
    top, step, x0, w = 0.965, 0.032, 0.982, 0.011
    pts: list[list[float]] = []
    quads: list[list[int]] = []
    colours: list[RGB] = []
    for k, (name, rgb) in enumerate(rows):
        y = top - k * step
        if name:
            label = plotter.add_text(
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
    _add_chips(plotter, np.array(pts, dtype=float), quads, colours)


def _add_chips(plotter: Any, pts: FloatArray, quads: list[list[int]], colours: list[RGB]) -> None:
    """Filled legend chips in viewport coordinates, with grey outlines (pale chips on white show)."""
    chips = pv.PolyData(pts, faces=np.hstack(quads))
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
    plotter.add_actor(actor, name="legend-chips", reset_camera=False)
    outline = pv.PolyData(pts)
    outline.lines = np.hstack([[5, q[1], q[2], q[3], q[4], q[1]] for q in quads])
    omapper = vtkPolyDataMapper2D()
    omapper.SetInputData(outline)
    omapper.SetTransformCoordinate(coord)
    oactor = vtkActor2D()
    oactor.SetMapper(omapper)
    oactor.GetProperty().SetColor(0.45, 0.45, 0.45)
    plotter.add_actor(oactor, name="legend-outlines", reset_camera=False)


def add_labels(plotter: Any, layout: Layout, max_station_labels: int) -> None:
    """Station labels above the equipment (up to ``max_station_labels`` of them), and line labels.

    vtkLabeledDataMapper draws static labels for ~0.1 ms each per frame; pyvista's add_point_labels
    (label placement) costs ~0.6 ms each. Beyond ``max_station_labels`` station labels would overlap
    into noise anyway: then only lines are labelled (the web panel and picking name the stations).
    """
    if len(layout.equipment) <= max_station_labels:
        texts = [e.id for e in layout.equipment]
        _label_actor(plotter, layout.station_labels, texts, 11, bold=False, name="station-labels")
    pts = np.array([p for p, _text in layout.line_labels])
    texts = [text for _p, text in layout.line_labels]
    _label_actor(plotter, pts, texts, 14, bold=True, name="line-labels", left=True)


def _label_actor(
    plotter: Any, pts: FloatArray, texts: list[str], size: int, *, bold: bool, name: str, left: bool = False
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
    plotter.add_actor(actor, name=name, reset_camera=False)
