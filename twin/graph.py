"""A networkx view of the plant graph and pure analysis functions over it.

The graph is built from what the store holds (:meth:`twin.store.TwinStore.nodes` / ``edges``): nodes are
the plant, its lines and every piece of equipment (attributes as stored); edges are typed (``feeds``,
``part_of``, ``transports``; the edge key is the kind). Nothing here talks to Redis: every function takes
the graph (and the plant definition or live rows) it works on.

**Material flow.** A car can move from ``a`` to ``b`` when there is a ``feeds`` edge ``a -> b`` (flow lines
imply them between neighbours in flow order), or when a carrier moves it: a ``transports`` edge
``X -> t`` means carrier ``X`` delivers to ``t``. AGVs shuttle both ways (they also pick cars up from what
they serve), so an AGV serving cells connects every pair of them; a conveyor only delivers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import networkx as nx

from twin.errors import NotFoundError
from twin.model import PROCESSING_TYPES, EdgeKind, Equipment, EquipmentType, Plant, StationState

__all__ = [
    "Bottleneck",
    "BottleneckReport",
    "Route",
    "RouteStep",
    "bottleneck",
    "build_graph",
    "downstream",
    "flow_graph",
    "parallel_share",
    "plant_graph",
    "routes",
    "station_load",
    "upstream",
]

#: Node types that are not equipment.
_NON_EQUIPMENT = frozenset({"plant", "line"})


def build_graph(
    nodes: Mapping[str, Mapping[str, Any]], edges: Iterable[tuple[str, str, str]]
) -> nx.MultiDiGraph:
    """The plant as a typed multigraph: ``nodes`` id -> attributes, ``edges`` ``(source, target, kind)``.

    Edge endpoints that are not among ``nodes`` are added as bare nodes (a graph never loses an edge).
    """
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    g.add_nodes_from((nid, dict(attrs)) for nid, attrs in nodes.items())
    g.add_edges_from((s, t, kind, {"kind": kind}) for s, t, kind in edges)
    return g


def plant_graph(plant: Plant) -> nx.MultiDiGraph:
    """The same graph built straight from a plant definition (for tools that have no store)."""
    nodes: dict[str, dict[str, Any]] = {plant.id: {"id": plant.id, "type": "plant", "name": plant.name}}
    for line in plant.lines:
        nodes[line.id] = {"id": line.id, "type": "line", "kind": line.kind.value, "name": line.name}
        for e in line.equipment:
            nodes[e.id] = e.model_dump(mode="json", exclude={"extra_tags"})
    return build_graph(nodes, ((e.source, e.target, e.kind.value) for e in plant.all_edges()))


def flow_graph(g: nx.MultiDiGraph) -> nx.DiGraph:
    """Equipment and the moves a car can make between them (see the module docstring)."""
    f: nx.DiGraph = nx.DiGraph()
    f.add_nodes_from(n for n, d in g.nodes(data=True) if d.get("type") not in _NON_EQUIPMENT)
    for s, t, kind in g.edges(keys=True):
        if s not in f or t not in f:
            continue
        if kind == EdgeKind.FEEDS.value:
            f.add_edge(s, t)
        elif kind == EdgeKind.TRANSPORTS.value:
            f.add_edge(s, t)
            if g.nodes[s].get("type") == EquipmentType.AGV.value:
                f.add_edge(t, s)
    return f


def _equipment_node(g: nx.MultiDiGraph, station: str) -> None:
    if station not in g or g.nodes[station].get("type") in _NON_EQUIPMENT:
        raise NotFoundError(f"unknown equipment {station!r}")


def _ordered(f: nx.DiGraph, station: str, reverse: bool) -> list[str]:
    view = f.reverse(copy=False) if reverse else f
    dist = nx.single_source_shortest_path_length(view, station)
    return sorted((n for n in dist if n != station), key=lambda n: (dist[n], n))


def upstream(g: nx.MultiDiGraph, station: str) -> list[str]:
    """Every piece of equipment a car can come from to reach ``station``, nearest first (then by id)."""
    _equipment_node(g, station)
    return _ordered(flow_graph(g), station, reverse=True)


def downstream(g: nx.MultiDiGraph, station: str) -> list[str]:
    """Every piece of equipment a car can go on to from ``station``, nearest first (then by id)."""
    _equipment_node(g, station)
    return _ordered(flow_graph(g), station, reverse=False)


# ---------------------------------------------------------------------------------------------- routes
@dataclass(frozen=True)
class RouteStep:
    """One routing step of a route: the operation, its cycle time and where it may run on this route."""

    operation: str
    cycle_s: float
    stations: list[str]


@dataclass(frozen=True)
class Route:
    """One way a model can go through the plant.

    ``lines`` are the lines visited, in order; ``steps`` list for each routing step the stations of those
    lines that may do it *on this route* (eligible, and reachable from the previous step's stations and
    able to reach the next step's); ``path`` is the station sequence when every step has exactly one
    station (a flow line), else None (cells: any listed cell may do the step, AGVs move the car).
    ``takt_s`` is the route's cycle time at its most loaded station, where a step's work is shared
    equally among its stations and a station doing several steps adds them up (see :func:`station_load`).
    """

    model: str
    lines: list[str]
    steps: list[RouteStep]
    path: list[str] | None
    takt_s: float
    bottleneck: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def _reach(f: nx.DiGraph) -> Any:
    @cache
    def descendants(node: str) -> frozenset[str]:
        return frozenset(nx.descendants(f, node)) | {node}

    return descendants


def routes(plant: Plant, g: nx.MultiDiGraph, model: str) -> list[Route]:
    """Every route of ``model`` through the plant (ordered by the plant's line order).

    A route picks, for each routing step in order, a station eligible for it (:meth:`Plant.eligible`)
    such that a car can get from each chosen station to the next one through the material flow (or the
    same station does both steps). Routes are told apart by the line each step runs on; within a route
    the stations that may do each step are listed. A flow line gives one route with a unique ``path``.
    """
    pm = plant.model_by_id().get(model)
    if pm is None:
        known = ", ".join(m.id for m in plant.models) or "none"
        raise NotFoundError(f"unknown model {model!r} (known: {known})")
    f = flow_graph(g)
    reach = _reach(f)
    eligible = [plant.eligible(step) for step in pm.routing]
    line_order = {line.id: i for i, line in enumerate(plant.lines)}
    found: list[tuple[list[str], list[set[str]]]] = []

    def by_line(stations: Iterable[Equipment]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for e in stations:
            out.setdefault(e.line, set()).add(e.id)
        return out

    def extend(lines: list[str], sets: list[set[str]]) -> None:
        i = len(sets)
        if i == len(pm.routing):
            found.append((lines, sets))
            return
        prev = sets[-1] if sets else None
        for line, cands in sorted(by_line(eligible[i]).items(), key=lambda kv: line_order[kv[0]]):
            nxt = cands if prev is None else {t for t in cands if any(t in reach(s) for s in prev)}
            if nxt:
                extend(lines if lines and lines[-1] == line else [*lines, line], [*sets, nxt])

    extend([], [])
    out: list[Route] = []
    for lines, sets in found:
        # keep only stations that can also reach the next step's stations (a dead end is no route)
        for i in range(len(sets) - 2, -1, -1):
            sets[i] = {s for s in sets[i] if any(t in reach(s) for t in sets[i + 1])}
        order = {e.id: k for k, e in enumerate(plant.equipment())}
        steps = [
            RouteStep(step.operation, step.cycle_s, sorted(st, key=order.__getitem__))
            for step, st in zip(pm.routing, sets, strict=True)
        ]
        path = [s.stations[0] for s in steps] if all(len(s.stations) == 1 for s in steps) else None
        load: dict[str, float] = {}
        for s in steps:
            for st in s.stations:
                load[st] = load.get(st, 0.0) + s.cycle_s / len(s.stations)
        worst = max(load, key=lambda st: (load[st], -order[st]))
        out.append(Route(model, lines, steps, path, load[worst], worst))
    return out


# ---------------------------------------------------------------------------------------------- bottleneck
def station_load(plant: Plant, models: Iterable[str] | None = None) -> dict[str, float]:
    """Design cycle time of every processing station: seconds of work per car, worst model.

    For each model a station serves, its work per car is the sum, over the model's routing steps it is
    eligible for, of the step's cycle time divided by the number of stations *of the same line* eligible
    for that step (parallel stations share the work). On a flow line with one station per operation this
    is simply the step's cycle time; a cell doing four body steps shared among four cells carries the sum
    of the four cycle times / 4. A station's load is the maximum over the models it serves (``models``:
    only these; default all); stations that serve none get 0.
    """
    load: dict[str, float] = {e.id: 0.0 for e in plant.equipment() if e.type in PROCESSING_TYPES}
    for shared, _own in _work_per_model(plant, models).values():
        for st, w in shared.items():
            load[st] = max(load[st], w)
    return load


def _work_per_model(
    plant: Plant, models: Iterable[str] | None = None
) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """Per model: each station's work per car of the line, shared with its parallel stations (what
    :func:`station_load` takes the maximum of), and the station's own time per car that passes it."""
    wanted = None if models is None else set(models)
    out: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
    for m in plant.models:
        if wanted is not None and m.id not in wanted:
            continue
        shared: dict[str, float] = {}
        own: dict[str, float] = {}
        for step in m.routing:
            elig = plant.eligible(step)
            per_line: dict[str, int] = {}
            for e in elig:
                per_line[e.line] = per_line.get(e.line, 0) + 1
            for e in elig:
                shared[e.id] = shared.get(e.id, 0.0) + step.cycle_s / per_line[e.line]
                own[e.id] = own.get(e.id, 0.0) + step.cycle_s
        out[m.id] = (shared, own)
    return out


def parallel_share(plant: Plant, models: Iterable[str] | None = None) -> dict[str, float]:
    """Per processing station, the share of a car's time in it that counts towards its line's takt.

    1 for a flow-line station; about 1/n for one of n cells that split a block's work (a cell's live cycle
    time is the time one car spends in it; the block finishes a car every cycle / n). Taken from the model
    that loads the station most (as :func:`station_load`); stations that serve no model get 1.
    """
    best: dict[str, tuple[float, float]] = {}
    for shared, own in _work_per_model(plant, models).values():
        for st, w in shared.items():
            if own.get(st) and (st not in best or w > best[st][0]):
                best[st] = (w, w / own[st])
    return {e.id: best[e.id][1] if e.id in best else 1.0 for e in plant.equipment()}


@dataclass(frozen=True)
class Bottleneck:
    """The station that limits a line (or the plant) right now, and why.

    ``reason`` is ``fault`` or ``changeover`` (the station is stopped: ``cycle_s`` is None), ``live cycle
    time`` (its reported ``cycle_time_s``) or ``design cycle time`` (:func:`station_load`).
    """

    station: str
    line: str
    cycle_s: float | None
    reason: str
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class BottleneckReport:
    """The bottleneck of every line (None: nothing running there) and of the whole plant."""

    lines: dict[str, Bottleneck | None] = field(default_factory=dict)
    plant: Bottleneck | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"plant": {...} | null, "lines": {line: {...} | null}}``."""
        return {
            "plant": self.plant.to_dict() if self.plant else None,
            "lines": {k: (v.to_dict() if v else None) for k, v in self.lines.items()},
        }


#: States in which a station stops the flow through it; ranked above any cycle time.
_STOPPED = {StationState.FAULT.value: 2, StationState.CHANGEOVER.value: 1}
_USABLE_QUALITY = {"good", "uncertain"}


def _live_cycle(row: Mapping[str, Any] | None) -> float | None:
    if not row or row.get("quality") not in _USABLE_QUALITY:
        return None
    v = row.get("cycle_time_s")
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        return None
    return float(v)


def bottleneck(
    plant: Plant,
    g: nx.MultiDiGraph | None = None,
    status_rows: Sequence[Mapping[str, Any]] | None = None,
    models: Iterable[str] | None = None,
) -> BottleneckReport:
    """The current bottleneck of each line and of the plant.

    Per processing station, in order of precedence:

    1. ``Fault`` (then ``Changeover``) in the live rows: the station stops its line, so it is the line's
       bottleneck; among several, the first in flow (config) order.
    2. ``Off`` stations are left out (a line whose stations are all off has no bottleneck: None).
    3. Otherwise the effective cycle time: the live ``cycle_time_s`` when the row has a positive value of
       good/uncertain quality, times the station's :func:`parallel_share` (cells that split a block's work
       count like the design figures do), else the design cycle time of :func:`station_load` (``models``:
       only the models to build, e.g. those with demand). The highest wins; ties go to the first in flow
       order.

    The plant's bottleneck is the worst line bottleneck by the same precedence. With ``status_rows``
    None (no live data) only rule 3's design cycle times are used. ``g`` is accepted for symmetry with
    the other analyses and to check the stations exist in the loaded graph.
    """
    rows = {str(r.get("id")): r for r in status_rows or ()}
    load = station_load(plant, models)
    share = parallel_share(plant, models)
    report_lines: dict[str, Bottleneck | None] = {}

    def rank(b: Bottleneck) -> tuple[int, float]:
        return (_STOPPED.get(b.state or "", 0) if b.cycle_s is None else 0, b.cycle_s or 0.0)

    for line in plant.lines:
        best: Bottleneck | None = None
        for e in line.equipment:
            if e.type not in PROCESSING_TYPES or (g is not None and e.id not in g):
                continue
            row = rows.get(e.id)
            state = row.get("state") if row else None
            state = state if isinstance(state, str) else None
            if state == StationState.OFF.value:
                continue
            if state in _STOPPED:
                cand = Bottleneck(e.id, line.id, None, state.lower(), state)
            else:
                live = _live_cycle(row)
                if live is not None and share.get(e.id, 1.0) < 1.0:
                    reason = f"live cycle time ({live:.1f} s in the cell, work shared)"
                    cand = Bottleneck(e.id, line.id, live * share[e.id], reason, state)
                elif live is not None:
                    cand = Bottleneck(e.id, line.id, live, "live cycle time", state)
                else:
                    cand = Bottleneck(e.id, line.id, load.get(e.id, 0.0), "design cycle time", state)
            if best is None or rank(cand) > rank(best):
                best = cand
        report_lines[line.id] = best
    plant_best: Bottleneck | None = None
    for b in report_lines.values():
        if b is not None and (plant_best is None or rank(b) > rank(plant_best)):
            plant_best = b
    return BottleneckReport(report_lines, plant_best)
