"""The archive reached from the CLI (`twin kpi`, `twin history`) and the API, with bad input refused."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import make_tokens
from tests.faults.harness import ROOT, TWIN
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.archive import ArchiveFs, Follower
from twin.archive.reader import ArchiveReader
from twin.model import Plant
from twin.store import TwinStore

T0 = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
SINCE, UNTIL = "2024-01-01T00:00", "2024-01-03T00:00"


@pytest.fixture
def archived(tmp_path: Path, store: TwinStore, mini_plant: Plant) -> Path:
    """Two days of a station cycling Running / Fault / Starved, one car every 10 min, then archived and
    the change stream trimmed to its last 20 entries (as its cap would)."""
    for i in range(400):
        t = T0 + 6 * 3600 + (i % 200) * 300.0 + (86400 if i >= 200 else 0)
        state = ("Running", "Fault", "Running", "Starved")[i % 4]
        store.write_changes(
            [("L1-WELD", "state", state, "good", t), ("L1-ASSY", "part_count", i // 2, "good", t)]
        )
    Follower(store, ArchiveFs(str(tmp_path / "data")), mini_plant.id).catch_up()
    store.client.xtrim(store.keys.changes, maxlen=20, approximate=False)
    return tmp_path / "data"


def _twin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)  # the archive commands need no Redis
    return subprocess.run([TWIN, *args], capture_output=True, text=True, env=env, timeout=120)


def test_twin_kpi_json_per_shift_and_exit_2_on_bad_input(archived: Path) -> None:
    r = _twin(
        "kpi", "--by", "shift", "--since", SINCE, "--until", UNTIL, "--json", "--data-dir", str(archived)
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"oee", "throughput", "reliability", "downtime", "energy"} <= set(doc)
    days = {row["period"] for row in doc["oee"]}
    assert days == {"2024-01-01 day", "2024-01-02 day"}  # the mini plant's one shift, 06:00-14:00
    weld = [row for row in doc["oee"] if row["id"] == "L1-WELD"]
    assert len(weld) == 2 and all(row["state_s"]["Fault"] > 0 for row in weld), weld
    rel = next(row for row in doc["reliability"] if row["station"] == "L1-WELD")
    assert rel["failures"] == 100 and rel["mttr_s"] == pytest.approx(300.0)
    r = _twin(
        "kpi", "--by", "day", "--line", "L1", "--since", SINCE, "--until", UNTIL, "--data-dir", str(archived)
    )
    assert r.returncode == 0 and "OEE by day" in r.stdout, r.stderr
    for args, problem in [
        (["--since", UNTIL, "--until", SINCE], "reversed"),
        (["--shift", "night"], "unknown shift 'night'"),
        (["--station", "NOPE"], "unknown station 'NOPE'"),
    ]:
        r = _twin("kpi", *args, "--data-dir", str(archived))
        assert r.returncode == 2 and problem in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_twin_history_csv_and_json(archived: Path) -> None:
    span = ["--since", "2024-01-01T06:00", "--until", "2024-01-01T07:00", "--data-dir", str(archived)]
    r = _twin("history", "L1-WELD.state", *span)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [x["value"] for x in rows[:4]] == ["Running", "Fault", "Running", "Starved"]
    assert len(rows) == 13 and rows[0]["time"].startswith("2024-01-01T06:00:00")
    r = _twin("history", "L1-ASSY", "--format", "json", *span)
    points = json.loads(r.stdout)["points"]
    assert [p["value"] for p in points][:3] == [0, 0, 1] and {p["tag"] for p in points} == {"part_count"}
    for tag, problem in [("L1-WELD.nope", "has no tag 'nope'"), ("NOPE.state", "unknown equipment 'NOPE'")]:
        r = _twin("history", tag, "--format", "json", *span)
        assert r.returncode == 2 and problem in r.stderr, r.stderr


@pytest.fixture
def api(archived: Path, store: TwinStore) -> Iterator[httpx.Client]:
    tokens, text = make_tokens()
    reader = ArchiveReader(ArchiveFs(str(archived)))
    server = run_api_in_thread(create_app(store, ApiSettings(tokens=parse_tokens(text)), archive=reader))
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {tokens['viewer']}"}, timeout=60
        ) as client:
            yield client
    finally:
        server.stop()


def test_api_kpi_history_is_paged_and_refuses_bad_input(api: httpx.Client) -> None:
    q = {"by": "hour", "since": SINCE, "until": UNTIL, "scope": "station", "limit": 10}
    first = api.get("/api/v1/kpi/history", params=q).json()
    assert first["total"] == 48 * 8 and len(first["items"]) == 10 and first["next_offset"] == 10
    second = api.get("/api/v1/kpi/history", params={**q, "offset": 10}).json()
    assert second["items"][0] != first["items"][0]
    rows = api.get(
        "/api/v1/kpi/history",
        params={"by": "shift", "since": SINCE, "until": UNTIL, "scope": "line", "line": "L1"},
    ).json()["items"]
    assert [(r["period"], r["id"]) for r in rows] == [("2024-01-01 day", "L1"), ("2024-01-02 day", "L1")]
    for path in ("throughput", "reliability", "downtime", "energy"):
        r = api.get(f"/api/v1/kpi/history/{path}", params={"since": SINCE, "until": UNTIL})
        assert r.status_code == 200 and r.json()["total"] > 0, (path, r.text)
    down = api.get("/api/v1/kpi/history/downtime", params={"since": SINCE, "until": UNTIL}).json()["items"]
    assert down[0]["station"] == "L1-WELD" and down[0]["cause"] in ("Fault", "Starved")
    for params, status, problem in [
        ({"since": UNTIL, "until": SINCE}, 422, "reversed"),
        ({"since": "soon"}, 422, "is not a time"),
        ({"by": "shift", "shift": "night", "since": SINCE, "until": UNTIL}, 422, "unknown shift"),
        ({"station": "NOPE", "since": SINCE, "until": UNTIL}, 404, "unknown station"),
        ({"by": "week"}, 422, "by"),
    ]:
        r = api.get("/api/v1/kpi/history", params=params)
        assert r.status_code == status and problem in r.json()["error"]["message"], (params, r.text)


def test_api_history_beyond_the_stream_comes_from_the_archive(api: httpx.Client) -> None:
    params = {"equipment": "L1-WELD", "tag": "state", "start": T0, "end": T0 + 3 * 86400, "limit": 150}
    page = api.get("/api/v1/history", params=params).json()
    assert page["source"] == "archive" and len(page["points"]) == 150 and page["next_after"]
    rest = api.get("/api/v1/history", params={**params, "after": page["next_after"], "limit": 1000}).json()
    values = [p["value"] for p in page["points"] + rest["points"]]
    assert len(values) == 400 and rest["next_after"] is None
    assert values[:4] == ["Running", "Fault", "Running", "Starved"]
