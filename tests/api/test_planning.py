"""Reference data for the console over real HTTP: shift windows, models, resources; data sources per line."""

from __future__ import annotations

import time

from tests.api.conftest import ApiEnv
from twin.changes import Change

MIDNIGHT = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def test_calendar_windows(api_env: ApiEnv) -> None:
    with api_env.client("viewer") as c:
        r = c.get("/api/v1/calendar", params={"start": MIDNIGHT, "end": MIDNIGHT + 2 * 86400}).json()
        assert r["shifts"] == [{"name": "day", "start": "06:00", "end": "14:00"}]
        assert r["time_scale"] == 1.0
        assert [(w["start"] - MIDNIGHT, w["end"] - MIDNIGHT, w["shift"]) for w in r["windows"]] == [
            (6 * 3600, 14 * 3600, "day"),
            (86400 + 6 * 3600, 86400 + 14 * 3600, "day"),
        ]
        clipped = c.get("/api/v1/calendar", params={"start": MIDNIGHT + 7 * 3600, "end": MIDNIGHT + 8 * 3600})
        assert [(w["start"], w["end"]) for w in clipped.json()["windows"]] == [
            (MIDNIGHT + 7 * 3600, MIDNIGHT + 8 * 3600)
        ]
        bad = c.get("/api/v1/calendar", params={"start": MIDNIGHT, "end": MIDNIGHT})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "end"
        assert c.get("/api/v1/calendar", params={"start": 0, "end": 40 * 86400}).status_code == 422


def test_models_and_resources(api_env: ApiEnv) -> None:
    with api_env.client("viewer") as c:
        assert c.get("/api/v1/models").json() == [
            {"id": "A", "name": None, "lines": ["L1"]},
            {"id": "B", "name": None, "lines": ["L2", "C"]},
        ]
        res = c.get("/api/v1/resources").json()
    assert [(r["id"], r["kind"], r["line"], r["line_kind"]) for r in res] == [
        ("L1", "line", "L1", "dedicated"),
        ("L2", "line", "L2", "mixed"),
        ("C-1", "cell", "C", "cells"),
        ("C-2", "cell", "C", "cells"),
    ]
    assert res[0]["equipment"] == ["L1-WELD", "L1-PAINT", "L1-ASSY"]


def test_sources_count_tags_by_quality(api_env: ApiEnv) -> None:
    now = time.time()
    api_env.store.write_changes(
        [
            Change("L2-WELD", "state", "Running", "good", now),
            Change("L2-PAINT", "state", "Idle", "stale", now),
        ]
    )
    with api_env.client("admin") as c:
        out = c.get("/api/v1/admin/sources").json()
    lines = {ls["line"]: ls for ls in out["lines"]}
    assert lines["L1"]["endpoint"] == "opc.tcp://127.0.0.1:4841" and lines["L2"]["endpoint"] is None
    l2 = lines["L2"]
    assert l2["tags"]["good"] >= 1 and l2["tags"]["stale"] >= 1
    assert "L2-PAINT" in l2["stale_equipment"] and "L2-WELD" not in l2["stale_equipment"]
    assert sum(l2["tags"].values()) == l2["tags_defined"]
    assert l2["age_s"] is not None and l2["age_s"] < 3600
    assert out["totals"]["stale"] >= 1
