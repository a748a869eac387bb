"""`twin demand set`, `twin replan`, `twin plan show|diff|list`, `twin bench replan` through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from twin.cli import app
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(180)

runner = CliRunner()


def _twin(url: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--redis-url", url, *args])
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize(
    ("model", "qty", "message"),
    [
        ("A", "-5", "must be >= 0"),
        ("A", "lots", "whole number"),
        ("A", "2.5", "whole number"),
        ("Z", "10", "unknown model 'Z'"),
    ],
)
def test_bad_demand_is_refused_in_one_line(
    redis_url: str, store: TwinStore, model: str, qty: str, message: str
) -> None:
    before = store.demand()
    code, _out, err = _twin(redis_url, "demand", "set", model, qty)
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert store.demand() == before and store.demand_events() == []


def test_bad_demand_through_the_console_script(redis_url: str, store: TwinStore) -> None:
    exe = [sys.executable, "-c", "from twin.cli import main; main()"]
    proc = subprocess.run(
        [*exe, "--redis-url", redis_url, "demand", "set", "A", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "must be >= 0" in proc.stderr
    assert store.demand()["A"] == 100


def test_demand_replan_show_diff(redis_url: str, store: TwinStore) -> None:
    code, out, _ = _twin(redis_url, "demand", "set", "A", "40")
    assert code == 0 and "demand A: 100 -> 40" in out
    code, out, err = _twin(
        redis_url, "replan", "--json", "--no-dispatch", "--time-limit", "1", "--lot-size", "20"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["version"] == 1 and doc["stored"] and doc["kpis"]["unmet"] == 0 and doc["check"]["ok"]
    _twin(redis_url, "demand", "set", "B", "100")
    code, out, err = _twin(redis_url, "replan", "--json", "--no-dispatch", "--no-check", "--time-limit", "1")
    assert code == 0, err
    assert json.loads(out)["version"] == 2
    code, out, _ = _twin(redis_url, "plan", "show", "--json")
    shown = json.loads(out)
    assert shown["version"] == 2 and shown["demand"] == {"A": 40, "B": 100}
    assert {"utilisation", "busy_h"} <= set(shown["kpis"]["resources"]["L1"])
    code, out, _ = _twin(redis_url, "plan", "show", "1")
    assert code == 0 and "plan v1" in out and "kWh/vehicle" in out
    code, out, _ = _twin(redis_url, "plan", "diff", "1", "2", "--json")
    diff = json.loads(out)
    assert code == 0 and diff["demand"] == {"B": {"from": 200, "to": 100}}
    assert diff["kpis"]["cars"]["delta"] == -100
    code, out, _ = _twin(redis_url, "plan", "diff", "1", "2")
    assert code == 0 and "demand B: 200 -> 100" in out
    code, out, _ = _twin(redis_url, "plan", "list", "--json")
    assert json.loads(out) == {"versions": [1, 2], "current": 2}
    code, _, err = _twin(redis_url, "plan", "show", "9")
    assert code != 0 and "no plan version 9" in err


@pytest.mark.slow
def test_bench_replan_quick_json() -> None:
    res = runner.invoke(app, ["bench", "replan", "--quick", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    demo = doc["demo"]
    for key in ("replan_s", "unmet_before", "unmet_after", "kwh_per_vehicle_before", "kwh_per_vehicle_after",
                "dedicated_line_idle_before", "dedicated_line_idle_after"):  # fmt: skip
        assert key in demo
    assert demo["unmet_after"] == 0
    assert demo["kwh_per_vehicle_after"] < demo["kwh_per_vehicle_before"]
    assert demo["dedicated_line_idle_after"] < demo["dedicated_line_idle_before"]
    assert isinstance(doc["instances"], list) and doc["instances"]
    energy = doc["energy"]
    for key in ("cap_kw", "peak_kw_plain", "peak_kw_energy", "sim_peak_15min_kw_energy", "cost_plain",
                "cost_energy", "unmet_plain", "unmet_energy", "replan_s_energy"):  # fmt: skip
        assert key in energy
    assert energy["unmet_energy"] == 0 and energy["peak_kw_energy"] <= energy["cap_kw"]
    assert energy["sim_peak_15min_kw_energy"] <= energy["cap_kw"] and energy["sim_cap_ok"]


def test_replanner_service_command_plans_pending_demand(redis_url: str, store: TwinStore) -> None:
    code, out, err = _twin(
        redis_url, "replanner", "--duration", "1", "--threshold", "0.2", "--no-dispatch", "--no-check",
        "--time-limit", "0.5",
    )  # fmt: skip
    assert code == 0, err
    assert "re-planner following demand" in out
    assert store.plan_versions() == [1]  # demand differed from "no plan" at start-up
    code, _out, err = _twin(redis_url, "replanner", "--threshold", "-1")
    assert code != 0 and "--threshold" in err


@pytest.mark.parametrize(
    "args",
    [
        ["replan", "--time-limit", "0"],
        ["replan", "--time-limit", "-3"],
        ["replan", "--freeze-min", "-5"],
        ["replan", "--lot-size", "0"],
        ["replan", "--workers", "0"],
        ["replanner", "--duration", "1", "--time-limit", "-1"],
        ["replanner", "--duration", "1", "--workers", "0"],
    ],
)
def test_bad_replan_options_are_refused(redis_url: str, store: TwinStore, args: list[str]) -> None:
    code, out, err = _twin(redis_url, *args, "--no-dispatch", "--no-check")
    assert code == 2, out + err
    assert store.plan_versions() == []


def test_replan_and_plan_list_read_well(redis_url: str, store: TwinStore) -> None:
    code, out, _ = _twin(redis_url, "plan", "list")
    assert code == 0 and "no plans yet" in out and "twin replan" in out
    code, out, err = _twin(redis_url, "replan", "--no-dispatch", "--no-check", "--time-limit", "1")
    assert code == 0, err
    assert "vNone" not in out and "plan v1 stored (the first plan)" in out
    # the KPI line stays one line when piped (no terminal: rich would wrap it at 80 columns)
    kpi_lines = [ln for ln in out.splitlines() if ln.startswith("cars ")]
    assert kpi_lines and "kWh/vehicle" in kpi_lines[0] and "peak" in kpi_lines[0], out
    code, out, err = _twin(redis_url, "replan", "--no-dispatch", "--no-check", "--time-limit", "1")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("plan v1 kept") and "nothing stored" in first and "from v1" not in first, first
    code, out, _ = _twin(redis_url, "plan", "list")
    assert code == 0 and out.startswith("v1")


def test_plan_diff_shows_small_moves_so_they_read_as_moves(redis_url: str, store: TwinStore) -> None:
    from twin.model import Plan, PlanAssignment

    def plan(start: float) -> Plan:
        lot = PlanAssignment(
            resource="L1", model="A", quantity=10, start_s=start, end_s=start + 600, lot="A-001"
        )
        return Plan(reason="test", demand={"A": 10}, assignments=[lot])

    store.put_plan(plan(10_548.0))
    store.put_plan(plan(10_566.0))  # 18 s later: both round to 2.93 h
    code, out, err = _twin(redis_url, "plan", "diff", "1", "2")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "A-001" in ln)
    assert "2:55:48 -> 2:56:06" in line and "+18 s" in line, line
