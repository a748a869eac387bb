"""Graph analyses against hand-computed answers on the mini plant and the demo plant.

Hand computation (see the definitions in :mod:`twin.graph`):

Mini plant. Model A runs only on L1 (weld 60, paint 90, assemble 45): one route, path
L1-WELD -> L1-PAINT -> L1-ASSY, takt 90 s at L1-PAINT. Model B may use L2 or the cells (70/90/50): on L2
takt 90 s at L2-PAINT; in the cell block every step may run on C-1 or C-2, so each cell carries
(70 + 90 + 50) / 2 = 105 s per car: takt 105 s, bottleneck C-1 (tie, first in order).
Design bottlenecks: L1-PAINT 90 (A), L2-PAINT 90 (B), C-1 105; plant: C-1.

Demo plant. Each flow line has one station per operation; the cells share work.
EV-SUV: L1 and L2 takt 58 s at the marriage station; cells: the fluids/alignment/inspection cells carry
(48 + 54 + 56) / 2 = 79 s, more than body (55+50+55+56)/4 = 54, paint (52+54+53+50)/3 = 69.67 and
assembly (57+55+58+52)/3 = 74: takt 79 at C-EOL1.
HATCH: L2 takt 55 s (final_inspect at L2-EOL); cells: inspection (50+53+55)/2 = 79.
Design bottlenecks: L1 serves EV-SUV, EV-SEDAN, SUV-HEV: max step is SUV-HEV marriage 59 s -> L1-MA;
L2 serves all four: SUV-HEV marriage 59 s -> L2-MA; C serves EV-SUV, HATCH -> C-EOL1 79;
plant: C-EOL1.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from twin.errors import NotFoundError
from twin.graph import (
    Bottleneck,
    bottleneck,
    build_graph,
    downstream,
    flow_graph,
    plant_graph,
    routes,
    station_load,
    upstream,
)
from twin.model import Plant
from twin.store import TwinStore

OPS = [
    "underbody",
    "framing",
    "respot",
    "closures",
    "pretreat",
    "sealer",
    "primer",
    "topcoat",
    "trim",
    "cockpit",
    "marriage",
    "wheels",
    "fluids",
    "alignment",
    "final_inspect",
]
ABBR = ["UB", "FR", "RS", "CL", "PT", "SL", "PR", "TC", "TR", "CP", "MA", "WH", "FL", "AL", "EOL"]


def test_graph_from_store_has_every_node_and_typed_edge(store: TwinStore, mini_plant: Plant) -> None:
    g = build_graph(store.nodes(), store.edges())
    assert set(g.nodes) == {"mini", "L1", "L2", "C"} | {e.id for e in mini_plant.equipment()}
    assert g.nodes["L1-PAINT"]["power_kw"] == 80
    assert g.has_edge("L1-WELD", "L1-BUF", key="feeds")
    assert g.has_edge("C-AGV", "C-2", key="transports")
    assert g.has_edge("L1", "mini", key="part_of")
    assert g.number_of_edges() == len(mini_plant.all_edges())
    same = plant_graph(mini_plant)
    assert set(same.edges(keys=True)) == set(g.edges(keys=True))


def test_flow_graph_agv_shuttles_both_ways(mini_plant: Plant) -> None:
    f = flow_graph(plant_graph(mini_plant))
    assert "L1" not in f and "mini" not in f
    assert f.has_edge("C-AGV", "C-1") and f.has_edge("C-1", "C-AGV")
    assert not f.has_edge("C-1", "C-2")


def test_upstream_downstream_mini(mini_plant: Plant) -> None:
    g = plant_graph(mini_plant)
    assert upstream(g, "L1-PAINT") == ["L1-BUF", "L1-WELD"]
    assert downstream(g, "L1-WELD") == ["L1-BUF", "L1-PAINT", "L1-ASSY"]
    assert upstream(g, "L1-WELD") == []
    assert downstream(g, "L2-ASSY") == []
    assert upstream(g, "C-1") == ["C-AGV", "C-2"]
    assert downstream(g, "C-AGV") == ["C-1", "C-2"]
    with pytest.raises(NotFoundError, match="unknown equipment 'NOPE'"):
        upstream(g, "NOPE")
    with pytest.raises(NotFoundError):
        downstream(g, "L1")  # a line is not equipment


def test_routes_mini(mini_plant: Plant) -> None:
    g = plant_graph(mini_plant)
    (a,) = routes(mini_plant, g, "A")
    assert a.lines == ["L1"] and a.path == ["L1-WELD", "L1-PAINT", "L1-ASSY"]
    assert (a.takt_s, a.bottleneck) == (90.0, "L1-PAINT")
    l2, cells = routes(mini_plant, g, "B")
    assert l2.lines == ["L2"] and l2.path == ["L2-WELD", "L2-PAINT", "L2-ASSY"]
    assert (l2.takt_s, l2.bottleneck) == (90.0, "L2-PAINT")
    assert cells.lines == ["C"] and cells.path is None
    assert [s.stations for s in cells.steps] == [["C-1", "C-2"]] * 3
    assert [s.operation for s in cells.steps] == ["weld", "paint", "assemble"]
    assert (cells.takt_s, cells.bottleneck) == (105.0, "C-1")
    assert cells.to_dict()["steps"][1] == {"operation": "paint", "cycle_s": 90.0, "stations": ["C-1", "C-2"]}
    with pytest.raises(NotFoundError, match="unknown model 'Z' \\(known: A, B\\)"):
        routes(mini_plant, g, "Z")


def test_route_needs_material_flow_between_steps(mini_plant: Plant) -> None:
    # reverse A's order: assemble before weld cannot happen on a flow line -> no route
    p = mini_plant.model_copy(deep=True)
    p.models[0].routing.reverse()
    assert routes(p, plant_graph(p), "A") == []


def test_bottleneck_design_mini(mini_plant: Plant) -> None:
    rep = bottleneck(mini_plant, plant_graph(mini_plant))
    assert rep.lines["L1"] == Bottleneck("L1-PAINT", "L1", 90.0, "design cycle time")
    assert rep.lines["L2"] == Bottleneck("L2-PAINT", "L2", 90.0, "design cycle time")
    assert rep.lines["C"] == Bottleneck("C-1", "C", 105.0, "design cycle time")
    assert rep.plant == rep.lines["C"]
    assert station_load(mini_plant, ["A"])["C-1"] == 0.0
    assert station_load(mini_plant)["L1-WELD"] == 60.0


def test_bottleneck_live_fault_cycle_off_and_stale(mini_plant: Plant) -> None:
    rows: list[dict[str, Any]] = [
        {"id": "C-2", "state": "Fault", "quality": "good"},
        {"id": "L1-ASSY", "state": "Running", "quality": "good", "cycle_time_s": 120.0},
        {"id": "L1-PAINT", "state": "Running", "quality": "stale", "cycle_time_s": 500.0},  # stale: ignored
        {"id": "L2-WELD", "state": "Off", "quality": "good"},
        {"id": "L2-PAINT", "state": "Off", "quality": "good"},
        {"id": "L2-ASSY", "state": "Off", "quality": "good"},
    ]
    rep = bottleneck(mini_plant, plant_graph(mini_plant), rows)
    assert rep.lines["C"] == Bottleneck("C-2", "C", None, "fault", "Fault")
    assert rep.lines["L1"] == Bottleneck("L1-ASSY", "L1", 120.0, "live cycle time", "Running")
    assert rep.lines["L2"] is None
    assert rep.plant == rep.lines["C"]  # a stopped station outranks any cycle time
    d = rep.to_dict()
    assert d["lines"]["L2"] is None and d["plant"]["station"] == "C-2"
    # a changeover ranks below a fault, above cycle times; the first fault in flow order wins
    rows2: list[dict[str, Any]] = [
        {"id": "L1-ASSY", "state": "Fault", "quality": "good"},
        {"id": "L1-WELD", "state": "Fault"},
        {"id": "L2-PAINT", "state": "Changeover", "quality": "good"},
    ]
    rep2 = bottleneck(mini_plant, None, rows2)
    assert rep2.lines["L1"] is not None and rep2.lines["L1"].station == "L1-WELD"
    assert rep2.lines["L2"] == Bottleneck("L2-PAINT", "L2", None, "changeover", "Changeover")
    assert rep2.plant is not None and rep2.plant.station == "L1-WELD"


def test_bottleneck_from_live_store(store: TwinStore, mini_plant: Plant) -> None:
    now = time.time()
    store.write_changes(
        [
            ("L2-ASSY", "state", "Fault", "good", now),
            ("L1-WELD", "cycle_time_s", 95.0, "good", now),
            ("L1-WELD", "state", "Running", "good", now),
        ]
    )
    g = build_graph(store.nodes(), store.edges())
    rep = bottleneck(store.plant(), g, store.status())
    assert rep.lines["L2"] == Bottleneck("L2-ASSY", "L2", None, "fault", "Fault")
    assert rep.lines["L1"] == Bottleneck("L1-WELD", "L1", 95.0, "live cycle time", "Running")
    assert rep.lines["C"] == Bottleneck("C-1", "C", 105.0, "design cycle time", None)
    assert rep.plant is not None and rep.plant.station == "L2-ASSY"


def test_demo_upstream_downstream(demo: Plant) -> None:
    g = plant_graph(demo)
    assert upstream(g, "L1-PT") == ["L1-BUF1", "L1-CL", "L1-RS", "L1-FR", "L1-UB"]
    assert downstream(g, "L2-WH") == ["L2-BUF3", "L2-FL", "L2-AL", "L2-EOL"]
    cells = [
        "C-ASSY1",
        "C-ASSY2",
        "C-ASSY3",
        "C-BODY1",
        "C-BODY2",
        "C-BODY3",
        "C-BODY4",
        "C-BUF1",
        "C-EOL1",
        "C-EOL2",
        "C-PAINT1",
        "C-PAINT2",
        "C-PAINT3",
    ]
    # every cell is one AGV hop away, every other cell two
    assert upstream(g, "C-EOL2") == ["C-AGV1", "C-AGV2", "C-AGV3", *[c for c in cells if c != "C-EOL2"]]


def test_demo_routes_ev_suv(demo: Plant) -> None:
    l1, l2, cells = routes(demo, plant_graph(demo), "EV-SUV")
    assert l1.path == [f"L1-{a}" for a in ABBR] and l2.path == [f"L2-{a}" for a in ABBR]
    assert (l1.takt_s, l1.bottleneck) == (58.0, "L1-MA")
    assert (l2.takt_s, l2.bottleneck) == (58.0, "L2-MA")
    assert cells.lines == ["C"] and cells.path is None
    assert [s.operation for s in cells.steps] == OPS
    body = ["C-BODY1", "C-BODY2", "C-BODY3", "C-BODY4"]
    paint = ["C-PAINT1", "C-PAINT2", "C-PAINT3"]
    assy = ["C-ASSY1", "C-ASSY2", "C-ASSY3"]
    eol = ["C-EOL1", "C-EOL2"]
    assert [s.stations for s in cells.steps] == [body] * 4 + [paint] * 4 + [assy] * 4 + [eol] * 3
    assert cells.takt_s == pytest.approx(79.0) and cells.bottleneck == "C-EOL1"


def test_demo_routes_other_models(demo: Plant) -> None:
    g = plant_graph(demo)
    summary = {
        m.id: [(r.lines, round(r.takt_s, 2), r.bottleneck) for r in routes(demo, g, m.id)]
        for m in demo.models
    }
    assert summary == {
        "EV-SUV": [(["L1"], 58.0, "L1-MA"), (["L2"], 58.0, "L2-MA"), (["C"], 79.0, "C-EOL1")],
        "EV-SEDAN": [(["L1"], 56.0, "L1-MA"), (["L2"], 56.0, "L2-MA")],
        "SUV-HEV": [(["L1"], 59.0, "L1-MA"), (["L2"], 59.0, "L2-MA")],
        "HATCH": [(["L2"], 55.0, "L2-EOL"), (["C"], 79.0, "C-EOL1")],
    }


def test_demo_bottleneck_design(demo: Plant) -> None:
    rep = bottleneck(demo, plant_graph(demo))
    assert rep.lines["L1"] == Bottleneck("L1-MA", "L1", 59.0, "design cycle time")
    assert rep.lines["L2"] == Bottleneck("L2-MA", "L2", 59.0, "design cycle time")
    c = rep.lines["C"]
    assert c is not None and (c.station, c.reason) == ("C-EOL1", "design cycle time")
    assert c.cycle_s == pytest.approx(79.0)
    assert rep.plant == c
    # only EV-SUV wanted: both flow lines limited by marriage at 58 s
    only = bottleneck(demo, None, models=["EV-SUV"])
    assert only.lines["L1"] == Bottleneck("L1-MA", "L1", 58.0, "design cycle time")
    assert only.lines["L2"] == Bottleneck("L2-MA", "L2", 58.0, "design cycle time")
    # EV-SUV demand gone: the cell block only builds HATCH, whose assembly is lighter (207/3 = 69)
    rest = bottleneck(demo, None, models=["EV-SEDAN", "SUV-HEV", "HATCH"])
    assert rest.lines["C"] is not None and rest.lines["C"].cycle_s == pytest.approx(158 / 2)


def test_demo_bottleneck_live(demo: Plant) -> None:
    rows: list[dict[str, Any]] = [
        {"id": "L1-PT", "state": "Fault", "quality": "good"},
        {"id": "L2-TR", "state": "Running", "quality": "good", "cycle_time_s": 90.0},
    ]
    rep = bottleneck(demo, plant_graph(demo), rows)
    assert rep.lines["L1"] == Bottleneck("L1-PT", "L1", None, "fault", "Fault")
    assert rep.lines["L2"] == Bottleneck("L2-TR", "L2", 90.0, "live cycle time", "Running")
    assert rep.plant is not None and rep.plant.station == "L1-PT"


def test_demo_bottleneck_live_cells_share_their_work(demo: Plant) -> None:
    # A cell's live cycle time is the time one car spends in it; its parallel cells share the block's
    # work, so what limits the block is cycle / cells, as for design cycle times. Body cells at 280 s
    # (4 cells: 70 s per car), paint at 260 s (3: 86.67), assembly at 240 s (3: 80), inspection at 100 s
    # (2: 50): paint limits the block although body has the longest raw cycle.
    live = {"C-BODY": 280.0, "C-PAINT": 260.0, "C-ASSY": 240.0, "C-EOL": 100.0}
    rows: list[dict[str, Any]] = [
        {"id": e.id, "state": "Running", "quality": "good", "cycle_time_s": live[e.id.rstrip("0123456789")]}
        for e in demo.line_by_id()["C"].equipment
        if e.type.value == "cell"
    ]
    rows.append({"id": "L1-MA", "state": "Running", "quality": "good", "cycle_time_s": 80.0})
    rep = bottleneck(demo, plant_graph(demo), rows)
    c = rep.lines["C"]
    assert c is not None and c.station == "C-PAINT1" and c.cycle_s == pytest.approx(260 / 3)
    assert c.reason.startswith("live cycle time")
    assert rep.plant == c  # 86.67 s per car beats L1-MA's 80 s
    rows[-1] = {"id": "L1-MA", "state": "Running", "quality": "good", "cycle_time_s": 90.0}
    rep = bottleneck(demo, plant_graph(demo), rows)
    assert rep.plant is not None and rep.plant.station == "L1-MA"  # not a cell's raw 280 s
