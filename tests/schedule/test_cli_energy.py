"""`twin replan --power-cap KW --objective ...`, and the energy lines of `twin plan show|diff`, through the
CLI against a real Redis: bad settings are one line, exit 2, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import MINI_PLANT
from twin.cli import app
from twin.config import plant_from_data
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(180)

runner = CliRunner()
FAST = ("--no-dispatch", "--no-check", "--time-limit", "1")


@pytest.fixture
def energy_store(redis_url: str) -> Iterator[TwinStore]:
    """The mini plant with a day/night tariff and a 900 kW contract demand."""
    data = yaml.safe_load(MINI_PLANT.read_text())
    data["energy"] = {
        "contract_kw": 900,
        "demand_charge_per_kw": 5,
        "tariff": [
            {"name": "night", "price_per_kwh": 90, "hours": [[22, 8]]},
            {"name": "day", "price_per_kwh": 150, "hours": [[8, 22]]},
        ],
    }
    s = TwinStore.from_url(redis_url)
    s.load_plant(plant_from_data(data, "mini+energy"))
    yield s
    s.client.close()


def _twin(url: str, *args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, ["--redis-url", url, *args])
    return res.exit_code, res.stdout, res.stderr


def test_replan_help_speaks_of_power_and_cost() -> None:
    res = runner.invoke(app, ["replan", "--help"])
    assert res.exit_code == 0
    assert "--power-cap" in res.stdout and "--objective" in res.stdout and "tariff" in res.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--power-cap", "0"], "--power-cap must be a number of kW > 0 or 'off', got '0'"),
        (["--power-cap", "-5"], "got '-5'"),
        (["--power-cap", "lots"], "got 'lots'"),
        (["--objective", "money"], "--objective must be one of cost, energy, time, got 'money'"),
        (["--power-cap", "100"], "below the plant's minimum powered load: building A needs 140 kW"),
    ],
)
def test_bad_energy_options_are_one_line_exit_2(
    redis_url: str, energy_store: TwinStore, args: list[str], words: str
) -> None:
    code, out, err = _twin(redis_url, "replan", *args, *FAST)
    assert code == 2, out + err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], err
    assert energy_store.plan_versions() == []


def test_replan_under_a_cap_shows_and_diffs_energy(redis_url: str, energy_store: TwinStore) -> None:
    code, out, err = _twin(redis_url, "replan", "--json", *FAST)
    assert code == 0, err
    first = json.loads(out)
    assert (
        first["energy"]["cap_source"] == "plant file (contract demand)"
        and first["energy"]["objective"] == "energy"
    )
    assert first["kpis"]["energy"]["cost"] > 0
    _twin(redis_url, "demand", "set", "B", "150")
    code, out, err = _twin(redis_url, "replan", "--power-cap", "250", "--objective", "cost", "--json", *FAST)
    assert code == 0, err
    second = json.loads(out)
    assert second["version"] == 2
    assert second["energy"] == {
        **second["energy"],
        "objective": "cost",
        "power_cap_kw": 250.0,
        "cap_source": "request",
    }
    assert second["kpis"]["energy"]["peak_kw_since"] <= 250
    code, out, _ = _twin(redis_url, "plan", "show", "2")
    line = next(ln for ln in out.splitlines() if ln.startswith("energy "))
    assert "kWh/vehicle" in line and "cost" in line and "KRW" in line and "15-min" in line and "CO2" in line
    assert "cap 250 kW from" in line and "made with: objective cost, cap 250 kW (request)" in line
    code, out, _ = _twin(redis_url, "plan", "diff", "1", "2")
    assert code == 0 and "energy cost:" in out and "energy peak_kw:" in out
    code, out, _ = _twin(redis_url, "plan", "diff", "1", "2", "--json")
    assert set(json.loads(out)["energy"]) >= {"kwh", "cost", "peak_kw", "peak_kw_15min", "demand_charge"}
    _twin(redis_url, "demand", "set", "B", "120")
    code, out, err = _twin(redis_url, "replan", "--power-cap", "off", "--json", *FAST)
    assert code == 0, err
    third = json.loads(out)
    assert third["version"] == 3 and third["energy"]["power_cap_kw"] is None
    assert third["energy"]["cap_source"] == "none"
