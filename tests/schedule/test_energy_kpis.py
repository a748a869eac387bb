"""Energy KPIs of hand-made plans with answers worked out by hand: the 15-minute profile, instantaneous and
15-minute peaks, kWh per vehicle, cost under the tariff, demand charge and CO2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from twin.config import plant_from_data
from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.energy import energy_kpis, energy_profile, instantaneous_peak_kw

pytestmark = pytest.mark.timeout(60)

MONDAY_0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC).timestamp()


def two_line_plant(**energy: Any) -> Plant:
    """Two one-station lines: L (100 kW rated, 20 idle), M (200 / 50); model X takes 60 s on either, so a
    lot of q cars takes 60 q seconds and its station runs all the time (a lot draws rated power on average).
    Tariff: Monday 01:00-02:00 costs 200 per kWh ('peak'), every other hour 100 ('light')."""
    station = {"type": "station", "operations": ["op"]}
    return plant_from_data(
        {
            "id": "p",
            "lines": [
                {"id": "L", "equipment": [{"id": "L-S", **station, "power_kw": 100, "idle_power_kw": 20}]},
                {"id": "M", "equipment": [{"id": "M-S", **station, "power_kw": 200, "idle_power_kw": 50}]},
            ],
            "models": [{"id": "X", "routing": [{"operation": "op", "cycle_s": 60}]}],
            "calendar": {"shifts": [{"name": "night", "start": "00:00", "end": "02:00"}], "horizon_hours": 2},
            "energy": {
                "contract_kw": 1000,
                "demand_charge_per_kw": 10,
                "co2_kg_per_kwh": 0.5,
                "currency": "EUR",
                "tariff": [
                    {"name": "light", "price_per_kwh": 100, "hours": [[2, 1]]},
                    {"name": "peak", "price_per_kwh": 200, "days": ["mon"], "hours": [[1, 2]]},
                    {"name": "light", "price_per_kwh": 100, "hours": [[1, 2]],
                     "days": ["tue", "wed", "thu", "fri", "sat", "sun"]},
                ],
                **energy,
            },
        },
        "two-lines",
    )  # fmt: skip


def plan(lots: list[tuple[str, int, int, int]], **meta: Any) -> Plan:
    """Lots ``(resource, cars, start, end)`` of model X; L powered for 2 h and M for the first hour."""
    return Plan(
        demand={"X": sum(q for _r, q, _s, _e in lots)},
        assignments=[
            PlanAssignment(resource=r, model="X", quantity=q, start_s=s, end_s=e, lot=f"X-{i}")
            for i, (r, q, s, e) in enumerate(lots)
        ],
        meta={"origin": MONDAY_0, "horizon_s": 7200, "powered": [["L", 0, 7200], ["M", 0, 3600]], **meta},
    )


#: L builds 15 cars in [0, 900) and 30 in [1800, 3600); M builds 15 in [450, 1350).
LOTS = [("L", 15, 0, 900), ("L", 30, 1800, 3600), ("M", 15, 450, 1350)]


def test_profile_per_quarter_hour() -> None:
    p = two_line_plant()
    profile = energy_profile(p, plan(LOTS))
    assert [s.start_s for s in profile] == [900.0 * k for k in range(8)]
    # Slot 0: L at 100 kW (25 kWh); M idle 50 kW (12.5 kWh) plus 150 kW for 450 s of its lot (18.75 kWh).
    # Slot 1: L idle (5 kWh), M idle plus the rest of its lot (31.25). Slots 2-3: L building, M idle.
    # Slots 4-7: L idle only (M is off after the first hour).
    assert [round(s.kwh, 3) for s in profile] == [56.25, 36.25, 37.5, 37.5, 5, 5, 5, 5]
    assert [round(s.kw, 2) for s in profile] == [225, 145, 150, 150, 20, 20, 20, 20]
    assert [s.period for s in profile] == ["light"] * 4 + ["peak"] * 4


def test_kpis_of_the_hand_made_plan() -> None:
    k = energy_kpis(two_line_plant(), plan(LOTS))
    assert k["kwh"] == 187.5  # L: 40 idle + 60 lots; M: 50 idle + 37.5 lot
    assert k["kwh_per_vehicle"] == 3.125  # 60 cars
    assert k["peak_kw"] == 300  # [450, 900): both lines building at rated power
    assert k["peak_kw_15min"] == 225
    assert k["kwh_by_period"] == {"light": 167.5, "peak": 20}
    assert k["cost"] == 167.5 * 100 + 20 * 200
    assert k["cost_by_period"] == {"light": 16750, "peak": 4000}
    assert k["demand_charge"] == 2250  # 10 per kW of the highest 15-minute average
    assert k["co2_kg"] == 93.8 and k["currency"] == "EUR"
    assert k["cap_kw"] is None and k["since_s"] == 0 and k["peak_kw_since"] == 300


def test_peaks_from_the_time_a_cap_holds() -> None:
    # The plan was made under a 160 kW cap that holds from t=1800 s on (what came before was frozen).
    capped = plan(LOTS, energy={"power_cap_kw": 160, "cap_from_s": 1800})
    k = energy_kpis(two_line_plant(), capped)
    assert k["cap_kw"] == 160 and k["since_s"] == 1800
    assert k["peak_kw_since"] == 150  # L building (100) and M idle (50)
    assert k["peak_kw_15min_since"] == 150
    assert energy_kpis(two_line_plant(), capped, since_s=0)["peak_kw_since"] == 300


def test_instantaneous_peak_counts_idle_of_powered_lines_only() -> None:
    p = two_line_plant()
    one = plan([("M", 15, 0, 900)])
    assert instantaneous_peak_kw(p, one) == 220  # M building (200), L powered and idle (20)
    assert instantaneous_peak_kw(p, one, since_s=900) == 70  # both idle until M switches off at 3600
    assert instantaneous_peak_kw(p, one, since_s=3600) == 20


def test_without_an_energy_section_only_kwh_and_peaks() -> None:
    p = two_line_plant()
    bare = p.model_copy(update={"energy": None})
    k = energy_kpis(bare, plan(LOTS))
    assert k["kwh"] == 187.5 and k["peak_kw"] == 300
    assert k["cost"] is None and k["demand_charge"] is None and k["co2_kg"] is None
    assert k["kwh_by_period"] == {}


def test_slots_follow_the_clock_quarter_hours() -> None:
    p = two_line_plant()
    late = plan([("L", 15, 0, 900)])
    late.meta["origin"] = MONDAY_0 + 600  # t=0 is 00:10: the first slot is 00:10-00:15
    profile = energy_profile(p, late)
    assert [s.start_s for s in profile[:3]] == [0.0, 300.0, 1200.0]
    assert round(profile[0].kwh, 4) == round((100 + 50) * 300 / 3600, 4)
