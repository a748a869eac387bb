"""The plant's scheduling resources and how each model is built on them (modes).

A flow line is one resource; a block of universal cells is one resource per cell; a block of specialised
cells (a car visits several) is one resource scheduled like a flow line. A :class:`Mode` gives a lot's
duration and energy on a resource (see :mod:`twin.schedule.plant.problem` for the abstraction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twin.model import PROCESSING_TYPES, Equipment, EquipmentType, LineKind, Plant, ProductModel
from twin.schedule.plant.problem import Mode
from twin.sim import SimOptions

__all__ = ["DEFAULT_AGV_TRANSFER_S", "dedicated_policy", "plant_modes", "plant_resources"]

#: One AGV trip in a cell block, as the plant's flow simulation (the plan check) assumes by default.
DEFAULT_AGV_TRANSFER_S: float = SimOptions.agv_transfer_s


def _block_is_one_resource(plant: Plant, line_id: str, cells: Sequence[str]) -> bool:
    """A cell block is one resource when some model needs several of its cells (specialised cells)."""
    for m in plant.models:
        per_step = [{e.id for e in plant.eligible(s) if e.id in cells} for s in m.routing]
        if not all(per_step):
            continue  # the block cannot build this model
        if not set.intersection(*per_step):
            return True
    return False


def plant_resources(plant: Plant) -> list[tuple[str, str, str, list[str]]]:
    """Scheduling resources of a plant: ``(id, kind, line, processing equipment)``.

    A flow line is one resource (kind ``line``). A block of universal cells gives one resource per cell
    (kind ``cell``); a block of specialised cells (a car visits several) is one resource (kind ``block``),
    scheduled like a flow line whose stages are the groups of cells a car visits.
    """
    out: list[tuple[str, str, str, list[str]]] = []
    for line in plant.lines:
        proc = [e for e in line.equipment if e.type in PROCESSING_TYPES]
        if not proc:
            continue
        if line.kind == LineKind.CELLS:
            cells = [e.id for e in proc if e.type == EquipmentType.CELL]
            if _block_is_one_resource(plant, line.id, cells):
                out.append((line.id, "block", line.id, cells))
            else:
                out.extend((c, "cell", line.id, [c]) for c in cells)
        else:
            out.append((line.id, "line", line.id, [e.id for e in proc]))
    return out


def _stages(plant: Plant, model_steps: Sequence[tuple[float, list[str]]]) -> list[tuple[float, int, str]]:
    """Group consecutive steps done by the same equipment: ``(seconds per car, parallel units, first)``."""
    stages: list[tuple[float, list[str]]] = []
    for cycle, here in model_steps:
        if stages and stages[-1][1] == here:
            stages[-1] = (stages[-1][0] + cycle, here)
        else:
            stages.append((cycle, here))
    return [(t, len(h), h[0]) for t, h in stages]


def _agv_count(plant: Plant, line_id: str) -> int:
    """AGVs of a line (a cell block's cars are carried by them; none: no travel is simulated)."""
    line = next((ln for ln in plant.lines if ln.id == line_id), None)
    return sum(1 for e in line.equipment if e.type == EquipmentType.AGV) if line is not None else 0


def _steps_on(
    plant: Plant, eqs: Mapping[str, Equipment], model: ProductModel, stations: Sequence[str]
) -> tuple[list[tuple[float, list[str]]], float] | None:
    """A model's routing on a resource: ``(cycle, units)`` per step and the energy above idle per car (J);
    None when some step has no eligible equipment there."""
    steps: list[tuple[float, list[str]]] = []
    extra_j_per_car = 0.0
    for step in model.routing:
        here = [e.id for e in plant.eligible(step) if e.id in stations]
        if not here:
            return None
        steps.append((step.cycle_s, here))
        # Each car spends cycle_s on one of the units doing this step, at rated power.
        extra_j_per_car += step.cycle_s * (eqs[here[0]].power_kw - eqs[here[0]].idle_power_kw)
    return steps, extra_j_per_car


def _timing(
    plant: Plant, kind: str, steps: Sequence[tuple[float, list[str]]], trip: float, agvs: int
) -> tuple[float, float]:
    """``(setup, per car)`` seconds of a lot on a resource (see :func:`plant_modes`)."""
    if kind == "cell" and agvs == 1:
        # In, build, out with the one AGV, which must be back before the next car comes in.
        return 0.0, sum(c for c, _ in steps) + 2 * trip
    if kind == "cell":
        return trip, sum(c for c, _ in steps) + trip
    # Flow: fill time for the first car, then one car per bottleneck stage cycle. In a cell block each
    # stage also holds its cell while the AGV brings the car in.
    stages = _stages(plant, steps)
    stage_times = [(t + trip) / n for t, n, _ in stages]
    per_car = max(stage_times)
    if agvs:  # the AGVs' own work: stages + 1 trips per car, shared by the block's AGVs
        per_car = max(per_car, (len(stages) + 1) * trip / agvs)
    setup = sum(t + trip for t, _, _ in stages) + trip - per_car
    return setup, per_car


def plant_modes(plant: Plant, agv_transfer_s: float = 0.0) -> dict[str, dict[str, Mode]]:
    """How each model is built on each resource (see :mod:`twin.schedule.plant.problem` for durations).

    ``agv_transfer_s`` is one AGV trip in a cell block that has AGVs (the simulation's
    :attr:`twin.sim.SimOptions.agv_transfer_s`; ``build_problem`` passes its default). A cell
    is also held while its car is carried in, and a car needs a trip into its first cell, one between
    cells and one out, so with ``A`` the trip and ``t``/``n`` a stage's cycle and cells, a stage takes
    ``(t + A) / n`` per car and the fill time is ``sum(t + A) + A`` (what the simulation does, to the
    second, when AGVs are not the bottleneck). A block's ``k`` AGVs make ``stages + 1`` trips per car, so it
    takes at least ``(stages + 1) x A / k`` per car (the AGVs' own work, which sets the pace when trips are
    long). With a single AGV it also carries the car out before it can bring the next one in: a single cell
    then takes ``t + 2A`` per car. Lots on separate cells of one block that share its AGVs are not bounded
    together (the plan check simulates the AGVs). The default 0 is the block model without travel.
    """
    eqs = plant.equipment_by_id()
    modes: dict[str, dict[str, Mode]] = {}
    for rid, kind, line_id, stations in plant_resources(plant):
        agvs = _agv_count(plant, line_id) if kind in ("cell", "block") else 0
        trip = float(agv_transfer_s) if agvs else 0.0
        for m in plant.models:
            routed = _steps_on(plant, eqs, m, stations)
            if routed is None:
                continue
            steps, extra_j_per_car = routed
            setup, per_car = _timing(plant, kind, steps, trip, agvs)
            flow = kind in ("line", "block")
            modes.setdefault(m.id, {})[rid] = Mode(rid, setup, per_car, extra_j_per_car / 3600.0, flow)
    return modes


def dedicated_policy(plant: Plant, demand: Mapping[str, int]) -> dict[str, list[str]]:
    """The classic policy: each dedicated line builds only its home model (the eligible one most in demand).

    The re-planner uses it for a first plan only; it describes how a plant is run when lines are treated
    as fixed (the "before" plan of the demo).
    """
    modes = plant_modes(plant)
    out: dict[str, list[str]] = {}
    for line in plant.lines:
        if line.kind != LineKind.DEDICATED:
            continue
        able = [m for m in modes if line.id in modes[m]]
        if able:
            out[line.id] = [max(able, key=lambda m: (demand.get(m, 0), m))]
    return out
