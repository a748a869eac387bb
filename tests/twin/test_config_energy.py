"""The plant file's ``energy`` section: the demo's is valid and complete; every broken one gets one precise
message naming the field (overlapping or missing hours, a zero or negative contract demand, ...)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DEMO_PLANT, MINI_PLANT
from twin.config import load_plant, plant_from_data
from twin.errors import ConfigError
from twin.model import Objective
from twin.tariff import period_hours, tariff_clock

TWIN = str(Path(sys.executable).parent / "twin")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
#: A complete tariff: light at night and all weekend, peak 09-17 on weekdays, mid around it.
TARIFF = [
    {"name": "light", "price_per_kwh": 100, "hours": [[22, 6]]},
    {"name": "light", "price_per_kwh": 100, "days": ["sat", "sun"], "hours": [[6, 22]]},
    {"name": "mid", "price_per_kwh": 150, "days": WEEKDAYS, "hours": [[6, 9], [17, 22]]},
    {"name": "peak", "price_per_kwh": 220, "days": WEEKDAYS, "hours": [[9, 17]]},
]


def with_energy(**energy: Any) -> dict[str, Any]:
    """The mini plant with an ``energy`` section (the complete tariff unless given)."""
    data = yaml.safe_load(MINI_PLANT.read_text())
    data["energy"] = {"contract_kw": 500, "tariff": TARIFF, **energy}
    return data


def tariff_with(index: int, **change: Any) -> list[dict[str, Any]]:
    return [({**p, **change} if i == index else p) for i, p in enumerate(TARIFF)]


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("zero-contract", with_energy(contract_kw=0), "energy.contract_kw", "greater than 0 (got 0)"),
    ("negative-contract", with_energy(contract_kw=-50), "energy.contract_kw", "greater than 0 (got -50)"),
    ("nan-contract", with_energy(contract_kw=float("nan")), "energy.contract_kw", "not NaN"),
    (
        "negative-demand-charge",
        with_energy(demand_charge_per_kw=-1),
        "energy.demand_charge_per_kw",
        "or equal to 0",
    ),
    ("negative-co2", with_energy(co2_kg_per_kwh=-0.1), "energy.co2_kg_per_kwh", "greater than or equal"),
    ("unknown-field", with_energy(contract_kv=5), "energy.contract_kv", "unknown field"),
    ("bad-objective", with_energy(objective="money"), "energy.objective", "'cost', 'energy' or 'time'"),
    ("cost-without-tariff", with_energy(tariff=[], objective="cost"), "energy.objective", "needs a tariff"),
    (
        "overlap",
        with_energy(tariff=tariff_with(3, hours=[[8, 17]])),
        "energy.tariff[3].hours[0]",
        "mon 08:00-09:00 is already priced by energy.tariff[2] ('mid')",
    ),
    (
        "overlap-over-midnight",
        with_energy(
            tariff=[*TARIFF, {"name": "x", "price_per_kwh": 90, "days": ["sun"], "hours": [[23, 1]]}]
        ),
        "energy.tariff[4].hours[0]",
        "sun 23:00-24:00 is already priced by energy.tariff[0] ('light')",
    ),
    (
        "missing-hours",
        with_energy(tariff=tariff_with(1, days=["sat"])),
        "energy.tariff",
        "no price for 16 hours of the week (sun 06:00-22:00)",
    ),
    (
        "missing-several",
        with_energy(tariff=TARIFF[:3]),
        "energy.tariff",
        "no price for 40 hours of the week (mon 09:00-17:00, tue 09:00-17:00, wed 09:00-17:00 and 2 more)",
    ),
    ("empty-hours", with_energy(tariff=tariff_with(3, hours=[[9, 9]])), "energy.tariff[3].hours[0]", "empty"),
    (
        "hour-25",
        with_energy(tariff=tariff_with(3, hours=[[9, 25]])),
        "energy.tariff[3].hours[0][1]",
        "or equal to 24",
    ),
    (
        "start-24",
        with_energy(tariff=tariff_with(3, hours=[[24, 9]])),
        "energy.tariff[3].hours[0][0]",
        "or equal to 23",
    ),
    ("bad-day", with_energy(tariff=tariff_with(3, days=["monday"])), "energy.tariff[3].days[0]", "'mon'"),
    ("day-twice", with_energy(tariff=tariff_with(3, days=["mon", "mon"])), "energy.tariff[3].days", "twice"),
    ("no-hours", with_energy(tariff=tariff_with(3, hours=[])), "energy.tariff[3].hours", "at least 1 item"),
    (
        "negative-price",
        with_energy(tariff=tariff_with(2, price_per_kwh=-3)),
        "energy.tariff[2].price_per_kwh",
        "greater than or equal to 0",
    ),
    (
        "one-name-two-prices",
        with_energy(tariff=tariff_with(1, price_per_kwh=120)),
        "energy.tariff[1].price_per_kwh",
        "period 'light' costs 100 per kWh at energy.tariff[0], 120 here",
    ),
]


@pytest.mark.parametrize(("data", "field", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_energy_section_names_field_and_problem(
    data: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        plant_from_data(data, source="bad.yaml")
    err = info.value
    assert (err.file, err.field) == ("bad.yaml", field), str(err)
    assert problem in err.problem, str(err)
    assert "\n" not in str(err)


def test_a_complete_tariff_prices_every_hour_once() -> None:
    plant = plant_from_data(with_energy(objective="cost"), "ok")
    assert plant.energy is not None and plant.energy.objective == Objective.COST
    monday_0 = 1767571200.0  # 2026-01-05 00:00 UTC, a Monday
    clock = tariff_clock(plant.energy, monday_0)
    assert clock is not None
    names = [clock.period_at(h * 3600).name for h in range(24 * 7)]
    assert names[:24] == ["light"] * 6 + ["mid"] * 3 + ["peak"] * 8 + ["mid"] * 5 + ["light"] * 2
    assert set(names[5 * 24 :]) == {"light"}  # the weekend
    # 08:30-09:30 on Monday: half mid, half peak
    assert clock.mean_price(8.5 * 3600, 9.5 * 3600) == pytest.approx((150 + 220) / 2)
    assert period_hours(22, 6) == [22, 23, 0, 1, 2, 3, 4, 5] and period_hours(0, 24) == list(range(24))


def test_no_energy_section_is_still_a_valid_plant() -> None:
    assert load_plant(MINI_PLANT).energy is None


def test_demo_plant_has_a_complete_time_of_use_tariff() -> None:
    plant = load_plant(DEMO_PLANT)
    energy = plant.energy
    assert energy is not None and energy.contract_kw and energy.demand_charge_per_kw > 0
    assert energy.co2_kg_per_kwh > 0 and energy.currency == "KRW"
    assert sorted({p.name for p in energy.tariff}) == ["light", "mid", "peak"]
    prices = {p.name: p.price_per_kwh for p in energy.tariff}
    assert prices["light"] < prices["mid"] < prices["peak"]
    # The contract demand sits above the plant's rated load, so the default cap never binds.
    assert energy.contract_kw > sum(e.power_kw for e in plant.equipment() if e.operations)


def test_cli_load_of_a_tariff_with_a_gap_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "gap.yaml"
    bad.write_text(yaml.safe_dump(with_energy(tariff=TARIFF[1:])), encoding="utf-8")
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}  # never reached: the config fails first
    out = subprocess.run(
        [TWIN, "load", "--config", str(bad)], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "energy.tariff: no price for 56 hours" in lines[0], out.stderr
