"""Read endpoints over real HTTP against the mini plant in a real Redis: graph, state, history, KPIs."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.conftest import ApiEnv


@pytest.fixture
def viewer(api_env: ApiEnv) -> httpx.Client:
    return api_env.client("viewer")


def test_nodes_filters_and_pagination(viewer: httpx.Client) -> None:
    r = viewer.get("/api/v1/graph/nodes", params={"type": "station", "line": "L1"}).json()
    assert [n["id"] for n in r["items"]] == ["L1-ASSY", "L1-PAINT", "L1-WELD"]
    assert r["total"] == 3 and r["next_offset"] is None
    all_ids = []
    offset: int | None = 0
    while offset is not None:
        page = viewer.get("/api/v1/graph/nodes", params={"limit": 4, "offset": offset}).json()
        assert len(page["items"]) <= 4
        all_ids += [n["id"] for n in page["items"]]
        offset = page["next_offset"]
    assert len(all_ids) == len(set(all_ids)) == page["total"] == 1 + 3 + 10  # plant, lines, equipment
    lines = viewer.get("/api/v1/graph/nodes", params={"type": "line"}).json()["items"]
    assert {n["id"] for n in lines} == {"L1", "L2", "C"}


def test_bad_filters_say_what_is_wrong(viewer: httpx.Client) -> None:
    r = viewer.get("/api/v1/graph/nodes", params={"type": "robot"})
    assert (
        r.status_code == 422
        and r.json()["error"]["field"] == "type"
        and "robot" in r.json()["error"]["message"]
    )
    r = viewer.get("/api/v1/graph/nodes", params={"limit": 0})
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit"
    r = viewer.get("/api/v1/graph/edges", params={"kind": "likes"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"


def test_edges(viewer: httpx.Client) -> None:
    feeds = viewer.get("/api/v1/graph/edges", params={"kind": "feeds", "line": "L1"}).json()["items"]
    assert {(e["source"], e["target"]) for e in feeds} == {
        ("L1-WELD", "L1-BUF"),
        ("L1-BUF", "L1-PAINT"),
        ("L1-PAINT", "L1-ASSY"),
    }
    agv = viewer.get("/api/v1/graph/edges", params={"node": "C-AGV"}).json()["items"]
    assert {(e["target"], e["kind"]) for e in agv} == {
        ("C-1", "transports"),
        ("C-2", "transports"),
        ("C", "part_of"),
    }


def test_graph_queries(viewer: httpx.Client) -> None:
    up = viewer.get("/api/v1/graph/upstream/L1-ASSY").json()["items"]
    assert [(n["id"], n["distance"]) for n in up] == [("L1-PAINT", 1), ("L1-BUF", 2), ("L1-WELD", 3)]
    down = viewer.get("/api/v1/graph/downstream/L2-WELD").json()["items"]
    assert [n["id"] for n in down] == ["L2-PAINT", "L2-ASSY"]
    routes = viewer.get("/api/v1/graph/route/B").json()["routes"]
    assert [r["lines"] for r in routes] == [["L2"], ["C"]]
    assert routes[0]["path"] == ["L2-WELD", "L2-PAINT", "L2-ASSY"]
    assert [s["operation"] for s in routes[1]["steps"]] == ["weld", "paint", "assemble"]
    assert routes[1]["steps"][0]["stations"] == ["C-1", "C-2"]
    r = viewer.get("/api/v1/graph/route/Z")
    assert r.status_code == 404 and "unknown model 'Z'" in r.json()["error"]["message"]
    r = viewer.get("/api/v1/graph/upstream/NOPE")
    assert r.status_code == 404 and "NOPE" in r.json()["error"]["message"]


def test_bottleneck_follows_live_state(api_env: ApiEnv, viewer: httpx.Client) -> None:
    b = viewer.get("/api/v1/graph/bottleneck", params={"line": "L1"}).json()
    assert b["bottleneck"]["station"] == "L1-PAINT"  # the longest design cycle (90 s)
    now = time.time()
    api_env.store.write_changes([("L1-ASSY", "cycle_time_s", 120.0, "good", now)])
    b = viewer.get("/api/v1/graph/bottleneck", params={"line": "L1"}).json()
    assert b["bottleneck"]["station"] == "L1-ASSY" and b["bottleneck"]["reason"] == "live cycle time"
    api_env.store.write_changes([("L1-WELD", "state", 4, "good", now)])  # Fault (PLC code 4) stops the flow
    b = viewer.get("/api/v1/graph/bottleneck", params={"line": "L1"}).json()
    assert b["bottleneck"]["station"] == "L1-WELD" and b["bottleneck"]["reason"] == "fault"
    whole = viewer.get("/api/v1/graph/bottleneck").json()
    assert whole["bottleneck"]["station"] == "L1-WELD" and set(whole["lines"]) == {"L1", "L2", "C"}
    api_env.store.write_changes(
        [("L1-WELD", "state", 1, "good", now), ("L1-ASSY", "cycle_time_s", 40.0, "good", now)]
    )
    assert viewer.get("/api/v1/graph/bottleneck", params={"line": "X"}).status_code == 404


def test_station_state(api_env: ApiEnv, viewer: httpx.Client) -> None:
    now = time.time()
    api_env.store.write_changes(
        [("L2-PAINT", "state", 1, "good", now), ("L2-PAINT", "power_kw", 71.5, "uncertain", now)]
    )
    s = viewer.get("/api/v1/stations/L2-PAINT").json()
    assert s["line"] == "L2" and s["state"] == 1 and s["quality"] == "uncertain"
    assert s["tags"]["power_kw"] == {"value": 71.5, "quality": "uncertain", "source_ts": pytest.approx(now)}
    rows = viewer.get("/api/v1/stations", params={"line": "L2", "type": "station"}).json()
    assert [r["id"] for r in rows["items"]] == ["L2-WELD", "L2-PAINT", "L2-ASSY"]
    assert rows["items"][1]["power_kw"] == 71.5
    r = viewer.get("/api/v1/stations/NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert viewer.get("/api/v1/stations", params={"line": "NOPE"}).status_code == 404


def test_history_range_and_paging(api_env: ApiEnv, viewer: httpx.Client) -> None:
    store = api_env.store
    t0 = time.time()
    for i in range(30):
        store.write_changes(
            [("C-2", "power_kw", float(i), "good", t0 + i * 0.001), ("C-1", "power_kw", -1.0, "good", t0)]
        )
    t1 = time.time() + 0.01
    h = viewer.get(
        "/api/v1/history", params={"equipment": "C-2", "tag": "power_kw", "start": t0 - 0.01, "end": t1}
    )
    body = h.json()
    assert [p["value"] for p in body["points"]] == [float(i) for i in range(30)]
    assert body["next_after"] is None and body["truncated_by_retention"] is False
    # page through with the cursor
    values: list[float] = []
    after = None
    while True:
        params = {"equipment": "C-2", "tag": "power_kw", "start": t0 - 0.01, "end": t1, "limit": 7}
        if after:
            params["after"] = after
        page = viewer.get("/api/v1/history", params=params).json()
        values += [p["value"] for p in page["points"]]
        after = page["next_after"]
        if after is None:
            break
    assert values == [float(i) for i in range(30)]
    r = viewer.get("/api/v1/history", params={"equipment": "C-2", "tag": "nope"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "tag"
    r = viewer.get("/api/v1/history", params={"equipment": "C-2", "start": 10, "end": 5})
    assert r.status_code == 422 and r.json()["error"]["field"] == "start"
    r = viewer.get("/api/v1/history", params={"equipment": "C-2", "after": "garbage"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "after"


def test_retention_report(api_env: ApiEnv, viewer: httpx.Client) -> None:
    r = viewer.get("/api/v1/history/retention").json()
    assert r["maxlen"] == 200_000
    assert r["length"] >= 1 and r["first_id"] and r["last_id"]
    assert r["entries_per_s"] > 0 and r["estimated_retention_s"] == pytest.approx(
        200_000 / r["entries_per_s"]
    )


def test_kpis_over_a_window(api_env: ApiEnv, viewer: httpx.Client) -> None:
    """A known state/counter sequence on L2 gives the KPIs it must."""
    store = api_env.store
    t = time.time() - 100.0  # source timestamps 100 s in the past, written now
    seq = [
        (0, [("L2-ASSY", "state", 1), ("L2-ASSY", "part_count", 10), ("L2-ASSY", "energy_kwh", 100.0)]),
        (50, [("L2-ASSY", "state", 4), ("L2-ASSY", "part_count", 11), ("L2-ASSY", "energy_kwh", 105.0)]),
        (75, [("L2-ASSY", "state", 6), ("L2-ASSY", "part_count", 11), ("L2-ASSY", "energy_kwh", 106.0)]),
    ]
    for dt, changes in seq:
        store.write_changes([(eq, tag, v, "good", t + dt) for eq, tag, v in changes])
    start, end = t - 1.0, t + 99.0  # by source time; the entries were written ~now, within the skew margin
    k = viewer.get("/api/v1/kpi/stations/L2-ASSY", params={"start": start - 0.001, "end": end}).json()
    # states by source time: unknown for 1 s, Running 50 s, Fault 25 s, Off 24 s to the window end
    assert k["state_s"] == pytest.approx({"Running": 50.0, "Fault": 25.0, "Off": 24.0}, abs=0.01)
    assert k["observed_s"] == pytest.approx(99.0, abs=0.01)
    assert k["utilisation"] == pytest.approx(50 / 99, abs=0.001)
    assert k["performance"] == pytest.approx(1.0)  # 1 car in 50 s running; B assembles in 50 s on L2
    assert k["oee"] == pytest.approx(50 / 75, abs=0.01)
    assert k["vehicles"] == 1 and k["energy_kwh"] == pytest.approx(6.0)
    assert k["kwh_per_vehicle"] == pytest.approx(6.0)
    assert k["availability"] == pytest.approx(50 / 75, abs=0.01)
    line = viewer.get("/api/v1/kpi/lines/L2", params={"start": start - 0.001, "end": end}).json()
    assert line["vehicles"] == 1  # the last station of the flow line
    full = viewer.get("/api/v1/kpi", params={"start": start - 0.001, "end": end}).json()
    assert full["plant"]["vehicles"] == 1 and set(full["lines"]) == {"L1", "L2", "C"}
    r = viewer.get("/api/v1/kpi/plant", params={"start": 20, "end": 10})
    assert r.status_code == 422 and r.json()["error"]["field"] == "start"
    assert viewer.get("/api/v1/kpi/lines/NOPE").status_code == 404
