"""Energy-aware re-planning: the tariff moves the heavy lot out of peak hours on a hand-made plant whose
optimum is worked out by hand, the cap holds in the validated schedule and in simulation, the settings
come from the request or the plant file and are recorded, bad settings are refused before any solve, and
the model's objective is what ``evaluate`` counts, also under "cost" and "time"."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.schedule.test_replan import generated_problem
from twin.config import plant_from_data
from twin.errors import ValidationError
from twin.model import Plant
from twin.schedule.plant.check import check_plan_in_sim
from twin.schedule.plant.energychoice import minus
from twin.schedule.plant.model import evaluate, solve_plant, validate
from twin.schedule.plant.problem import PlantProblem
from twin.schedule.plant.replan import ReplanConfig, replan
from twin.sim import SimOptions
from twin.tariff import TariffClock

pytestmark = pytest.mark.timeout(120)

MONDAY_6 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp()
H = 3600


def paint_and_assembly(**energy: Any) -> Plant:
    """A paint line P (one station, 400 kW rated, 40 idle) builds model HEAVY, an assembly line A (40 / 4)
    model LIGHT; 60 cars take 1 h either way (60 s each). One shift 06:00-12:00. On Mondays only 08:00-09:00
    is light load (100 per kWh), every other hour of the shift is peak load (300)."""

    def line(lid: str, op: str, kw: float) -> dict[str, Any]:
        st = {
            "id": f"{lid}-S",
            "type": "station",
            "operations": [op],
            "power_kw": kw,
            "idle_power_kw": kw / 10,
        }
        return {"id": lid, "kind": "mixed", "equipment": [st]}

    return plant_from_data(
        {
            "id": "tariff-demo",
            "lines": [line("P", "paint", 400), line("A", "assemble", 40)],
            "models": [
                {"id": "HEAVY", "routing": [{"operation": "paint", "cycle_s": 60}]},
                {"id": "LIGHT", "routing": [{"operation": "assemble", "cycle_s": 60}]},
            ],
            "calendar": {"shifts": [{"name": "am", "start": "06:00", "end": "12:00"}], "horizon_hours": 6},
            "demand": {"HEAVY": 60, "LIGHT": 60},
            "energy": {
                "contract_kw": 420,  # P building (400) with A idle (4) fits; both building (440) does not
                "tariff": [
                    {"name": "light", "price_per_kwh": 100, "hours": [[0, 6], [12, 24]]},
                    {"name": "peak", "price_per_kwh": 300, "days": ["mon"], "hours": [[6, 8], [9, 12]]},
                    {"name": "light", "price_per_kwh": 100, "days": ["mon"], "hours": [[8, 9]]},
                    {"name": "light", "price_per_kwh": 100, "hours": [[6, 12]],
                     "days": ["tue", "wed", "thu", "fri", "sat", "sun"]},
                ],
                **energy,
            },
        },
        "tariff-demo",
    )  # fmt: skip


def _plan(plant: Plant, **cfg: Any) -> Any:
    config = ReplanConfig(time_limit_s=3.0, lot_size=60, first_plan_dedicated=False, **cfg)
    return replan(plant, plant.demand, current=None, now=MONDAY_6, config=config)


def test_the_tariff_moves_the_heavy_lot_into_the_light_hour() -> None:
    plant = paint_and_assembly()
    res = _plan(plant, objective="cost")
    at = {a.model: a for a in res.plan.assignments}
    # By hand: HEAVY (360 kWh above idle) takes the one light hour, 08:00-09:00, exactly (a minute later
    # and a minute of it is at peak price, and P is powered in two clock hours instead of one); LIGHT
    # (36 kWh) runs in a whole peak hour of its own (the cap keeps the two apart), each line switched off
    # in every other hour.
    assert (at["HEAVY"].start_s, at["HEAVY"].end_s) == (2 * H, 3 * H)
    light = at["LIGHT"]
    assert light.start_s % H == 0 and light.end_s - light.start_s == H and light.start_s != 2 * H
    k = res.plan.kpis["energy"]
    # HEAVY 360 kWh + P idle 40 kWh at 100; LIGHT 36 kWh + A idle 4 kWh at 300.
    assert k["kwh"] == 440 and k["cost"] == 40_000 + 12_000
    assert k["kwh_by_period"] == {"light": 400, "peak": 40}
    assert res.plan.kpis["unmet"] == 0
    # The same re-plan without energy terms knows no tariff: it cannot do better, and here it does worse.
    plain = _plan(plant, objective="energy", no_power_cap=True)
    assert plain.plan.kpis["energy"]["cost"] > k["cost"]


def test_the_cap_holds_in_the_schedule_and_in_simulation() -> None:
    plant = paint_and_assembly()
    res = _plan(plant, objective="cost")
    assert res.plan.meta["energy"]["power_cap_kw"] == 420
    powered = [tuple(p) for p in res.plan.meta["powered"]]
    assert validate(res.problem, res.schedule, powered) == []
    assert res.plan.kpis["energy"]["peak_kw"] <= 420
    a, b = sorted((x.start_s, x.end_s) for x in res.plan.assignments)
    assert a[1] <= b[0]  # never both lines building at once (440 kW)
    check = check_plan_in_sim(plant, res.plan, seeds=(0, 1), options=SimOptions(cycle_cv=0.05, faults=False))
    assert check.ok and check.cap_kw == 420 and max(check.peak_kw_15min_since) <= 420
    assert check.meets_demand


def test_settings_come_from_the_plant_file_and_are_recorded() -> None:
    plant = paint_and_assembly(objective="cost")
    res = _plan(plant)
    settings = res.plan.meta["energy"]
    assert settings["objective"] == "cost" and settings["power_cap_kw"] == 420
    assert settings["cap_source"] == "plant file (contract demand)" and settings["cap_from_s"] == 0
    assert settings["min_cap_kw"] == 400 and settings["tariff"] is True
    asked = _plan(plant, objective="time", power_cap_kw=1000)
    assert (asked.plan.meta["energy"]["objective"], asked.plan.meta["energy"]["cap_source"]) == (
        "time",
        "request",
    )
    free = _plan(plant, no_power_cap=True, objective="energy")
    assert free.plan.meta["energy"]["power_cap_kw"] is None and free.problem.power_cap_kw is None


@pytest.mark.parametrize(
    ("cfg", "words"),
    [
        ({"power_cap_kw": 300}, "power cap 300 kW is below the plant's minimum powered load: building HEAVY "
                                "needs 400 kW (P at rated power); the smallest feasible cap is 400 kW"),
        ({"power_cap_kw": 0}, "must be a number of kW > 0, got 0"),
        ({"power_cap_kw": -10}, "must be a number of kW > 0, got -10"),
        ({"power_cap_kw": float("nan")}, "must be a number of kW > 0"),
        ({"power_cap_kw": 500, "no_power_cap": True}, "not both"),
        ({"objective": "money"}, "unknown objective 'money': choose one of cost, energy, time"),
    ],
)  # fmt: skip
def test_bad_energy_settings_are_refused_before_any_solve(cfg: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        _plan(paint_and_assembly(), **cfg)
    assert words in str(info.value)


def test_a_contract_demand_below_the_minimum_load_names_its_source() -> None:
    with pytest.raises(ValidationError) as info:
        _plan(paint_and_assembly(contract_kw=100))
    assert "power cap 100 kW (plant file (contract demand)) is below" in str(info.value)
    assert "the smallest feasible cap is 400 kW" in str(info.value)


def test_cost_needs_a_tariff() -> None:
    plant = paint_and_assembly()
    bare = plant.model_copy(update={"energy": plant.energy.model_copy(update={"tariff": []})})  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="needs a time-of-use tariff"):
        _plan(bare, objective="cost")


def test_frozen_window_and_never_worse_hold_under_cost_and_cap() -> None:
    plant = paint_and_assembly()
    v1 = _plan(plant, objective="cost").plan
    # 08:10: HEAVY started at 08:00 (frozen); LIGHT, if later, is still free.
    res = replan(plant, plant.demand, current=v1, now=MONDAY_6 + 2 * H + 600,
                 config=ReplanConfig(time_limit_s=2.0, objective="cost", freeze_s=300))  # fmt: skip
    old = {a.lot: a for a in v1.assignments}
    new = {a.lot: a for a in res.plan.assignments}
    for lot in res.plan.meta["frozen"]:
        assert (new[lot].resource, new[lot].start_s) == (old[lot].resource, old[lot].start_s)
    assert "HEAVY" in {old[lot].model for lot in res.plan.meta["frozen"]}
    assert res.baseline_score is not None and res.score.total <= res.baseline_score.total
    assert res.plan.kpis["unmet"] == 0


def _with_tariff(pb: PlantProblem, objective: str) -> PlantProblem:
    """A generated problem priced by a tariff with a peak from 1 h to 2 h after its origin (Monday 00:00)."""
    from twin.model import TariffPeriod

    cheap = TariffPeriod(name="light", hours=[(0, 24)], price_per_kwh=100)
    peak = TariffPeriod(name="peak", hours=[(0, 24)], price_per_kwh=300)
    cells = tuple(peak if i in (1, 2) else cheap for i in range(168))
    return dataclasses.replace(pb, objective=objective, tariff=TariffClock(cells, MONDAY_6 - 6 * H))


@pytest.mark.parametrize(("seed", "objective"), [(0, "cost"), (1, "cost"), (2, "time"), (3, "cost")])
def test_the_model_counts_what_evaluate_counts_under_cost_and_time(seed: int, objective: str) -> None:
    pb = _with_tariff(generated_problem(seed, power_cap=seed % 2 == 1, frozen=seed == 3), objective)
    res = solve_plant(pb, time_limit_s=2.0, deterministic=False)
    assert res.status in ("OPTIMAL", "FEASIBLE")
    used = {(s.resource, w) for s in res.schedule for w in pb.resources[s.resource].windows
            if s.start < w.end and s.end > w.start}  # fmt: skip
    wins = sorted((r, w.start, w.end) for r, w in used)
    assert validate(pb, res.schedule, minus(wins, res.off)) == []
    assert evaluate(pb, res.schedule, off=res.off).total == res.objective
    assert objective == "cost" or not res.off
