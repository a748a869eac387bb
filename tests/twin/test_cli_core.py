"""The core commands run as the real ``twin`` console script against a real redis-server."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO_PLANT, MINI_PLANT
from tests.helpers import cli_env, run_twin
from twin.config import parse_plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)


def twin(*args: str, redis_url: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_twin(*args, env=cli_env(redis_url, COLUMNS="200"), timeout=100)


def test_load_prints_counts_and_times_then_status_json(redis_url: str) -> None:
    res = twin("load", "--config", str(DEMO_PLANT), redis_url=redis_url)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("loaded 3 lines, 42 stations, 311 tags in ")
    assert "graph view" in res.stdout
    again = twin("load", "--config", str(DEMO_PLANT), redis_url=redis_url)
    assert again.returncode == 0 and again.stdout.startswith("unchanged")
    store = TwinStore.from_url(redis_url)
    now = time.time()
    store.write_changes(
        [("L1-MA", "state", "Fault", "good", now), ("L1-MA", "cycle_time_s", 74.0, "good", now)]
    )
    res = twin("status", "--json", redis_url=redis_url)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["equipment"]
    assert len(rows) == 52
    assert all({"id", "type", "line", "state", "quality", "updated"} <= set(r) for r in rows)
    ma = next(r for r in rows if r["id"] == "L1-MA")
    assert (ma["state"], ma["quality"], ma["cycle_time_s"], ma["line"]) == ("Fault", "good", 74.0, "L1")
    assert isinstance(ma["updated"], float)
    other = next(r for r in rows if r["id"] == "C-AGV1")
    assert (other["state"], other["quality"], other["updated"]) == (None, "stale", None)
    one_line = json.loads(twin("status", "--json", "--line", "C", redis_url=redis_url).stdout)["equipment"]
    assert {r["line"] for r in one_line} == {"C"} and len(one_line) == 16
    table = twin("status", "--line", "L1", redis_url=redis_url)
    assert table.returncode == 0 and "L1-MA" in table.stdout and "Fault" in table.stdout
    assert "18 pieces of equipment: 1 Fault, 17 no data" in table.stdout
    bad = twin("status", "--line", "L9", redis_url=redis_url)
    assert bad.returncode == 1 and "unknown line 'L9'" in bad.stderr


def test_changed_config_needs_migrate(redis_url: str, tmp_path: Path) -> None:
    assert twin("load", "--config", str(MINI_PLANT), redis_url=redis_url).returncode == 0
    changed = tmp_path / "mini.yaml"
    changed.write_text(MINI_PLANT.read_text().replace("power_kw: 80", "power_kw: 85"))
    res = twin("load", "--config", str(changed), redis_url=redis_url)
    assert res.returncode == 1 and "--migrate" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = twin("load", "--config", str(changed), "--migrate", redis_url=redis_url)
    assert res.returncode == 0 and res.stdout.startswith("migrated 3 lines")


def test_load_records_the_time_scale_of_a_simulated_plant(redis_url: str) -> None:
    res = twin("load", "--config", str(MINI_PLANT), "--time-scale", "60", redis_url=redis_url)
    assert res.returncode == 0, res.stderr
    store = TwinStore.from_url(redis_url)
    assert store.time_scale() == 60.0
    assert twin("load", "--config", str(MINI_PLANT), redis_url=redis_url).returncode == 0
    assert store.time_scale() == 60.0  # omitted: unchanged
    bad = twin("load", "--config", str(MINI_PLANT), "--time-scale", "-2", redis_url=redis_url)
    assert bad.returncode != 0 and "--time-scale must be a positive number (got -2.0)" in bad.stderr
    assert store.time_scale() == 60.0  # refused: nothing changed
    assert twin("load", "--config", str(MINI_PLANT), "--time-scale", "1", redis_url=redis_url).returncode == 0
    assert store.time_scale() == 1.0


def test_load_without_redis_url_says_what_to_do() -> None:
    res = twin("load", "--config", str(MINI_PLANT))
    assert res.returncode == 1
    assert "set REDIS_URL or pass --redis-url" in res.stderr
    assert twin("status").returncode == 1
    down = twin("load", "--config", str(MINI_PLANT), redis_url="redis://127.0.0.1:1/0")
    assert down.returncode == 1 and down.stderr.startswith("error: Redis unreachable")
    assert len(down.stderr.strip().splitlines()) == 1


def test_graph_commands_on_demo(redis_url: str) -> None:
    assert twin("load", "--config", str(DEMO_PLANT), redis_url=redis_url).returncode == 0
    up = json.loads(twin("graph", "upstream", "L1-PT", "--json", redis_url=redis_url).stdout)
    assert up == {"upstream": ["L1-BUF1", "L1-CL", "L1-RS", "L1-FR", "L1-UB"]}
    down = twin("graph", "downstream", "L2-WH", redis_url=redis_url)
    assert down.returncode == 0 and down.stdout.split("\n")[1:5] == ["L2-BUF3", "L2-FL", "L2-AL", "L2-EOL"]
    route = json.loads(twin("graph", "route", "--model", "HATCH", "--json", redis_url=redis_url).stdout)
    assert [(r["lines"], r["bottleneck"]) for r in route["routes"]] == [
        (["L2"], "L2-EOL"),
        (["C"], "C-EOL1"),  # fluids, alignment and inspection: the cell block's slowest stage
    ]
    text = twin("graph", "route", "--model", "EV-SUV", redis_url=redis_url).stdout
    assert "route 1: L1  takt 58.0 s (bottleneck L1-MA" in text and "route 3: C  takt 79.0 s" in text
    bn = json.loads(twin("graph", "bottleneck", "--json", redis_url=redis_url).stdout)
    assert bn["plant"]["station"] == "C-EOL1"
    assert {k: v["station"] for k, v in bn["lines"].items()} == {
        "L1": "L1-MA",
        "L2": "L2-MA",
        "C": "C-EOL1",
    }
    # live: a fault on L2 makes it the plant's bottleneck
    TwinStore.from_url(redis_url).write_changes([("L2-PR", "state", "Fault", "good", time.time())])
    bn = json.loads(twin("graph", "bottleneck", "--json", redis_url=redis_url).stdout)
    assert bn["plant"] == {
        "station": "L2-PR",
        "line": "L2",
        "cycle_s": None,
        "reason": "fault",
        "state": "Fault",
    }
    table = twin("graph", "bottleneck", redis_url=redis_url)
    assert table.returncode == 0 and "L2-PR" in table.stdout
    missing = twin("graph", "upstream", "NOPE", redis_url=redis_url)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: unknown equipment 'NOPE'"
    unknown = twin("graph", "route", "--model", "TRUCK", redis_url=redis_url)
    assert unknown.returncode == 1 and "unknown model 'TRUCK'" in unknown.stderr


def test_plant_generate_prints_loadable_yaml(redis_url: str, tmp_path: Path) -> None:
    res = twin("plant", "generate", "--lines", "3", "--stations", "8", "--tags", "10", "--seed", "7")
    assert res.returncode == 0, res.stderr
    plant = parse_plant(res.stdout, "stdout")
    assert len(plant.lines) == 3 and len(plant.equipment()) == 24
    path = tmp_path / "gen.yaml"
    path.write_text(res.stdout)
    loaded = twin("load", "--config", str(path), redis_url=redis_url)
    assert loaded.returncode == 0 and loaded.stdout.startswith("loaded 3 lines, 24 stations, 240 tags in ")
    bad = twin("plant", "generate", "--tags", "2")
    assert bad.returncode == 1 and "--tags must be at least 7" in bad.stderr
