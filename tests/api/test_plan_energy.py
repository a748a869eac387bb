"""Energy through the API, with the production wiring (the scheduler's re-planner): a plan's energy profile
for the console, and `POST /replan` with a power cap and an objective (validated, 4xx with a reason,
nothing stored)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.api.conftest import ApiEnv, make_tokens
from tests.conftest import MINI_PLANT
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.api.wiring import scheduler_wiring
from twin.config import plant_from_data
from twin.embedded import EmbeddedRedis
from twin.model import Plant
from twin.schedule.plant.energy import energy_kpis
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)

TARIFF = [
    {"name": "light", "price_per_kwh": 90, "hours": [[22, 8]]},
    {"name": "day", "price_per_kwh": 150, "hours": [[8, 22]]},
]


def energy_mini_plant() -> Plant:
    """The mini plant with a tariff and a contract demand above its rated load (it never binds)."""
    data = yaml.safe_load(MINI_PLANT.read_text())
    data["energy"] = {"contract_kw": 900, "tariff": TARIFF, "demand_charge_per_kw": 5, "co2_kg_per_kwh": 0.4}
    return plant_from_data(data, "mini+energy")


@pytest.fixture(scope="module")
def energy_env(api_redis: EmbeddedRedis) -> Iterator[ApiEnv]:
    store = TwinStore.from_url(api_redis.url)
    store.client.flushall()
    store.load_plant(energy_mini_plant())
    tokens, text = make_tokens()
    wiring = scheduler_wiring(store)
    settings = ApiSettings(tokens=parse_tokens(text))
    app = create_app(store, settings, replan=wiring.replan, propose=wiring.propose, diff=wiring.diff)
    server = run_api_in_thread(app)
    try:
        yield ApiEnv(store=store, server=server, tokens=tokens)
    finally:
        server.stop()
        store.client.close()


def _replan(env: ApiEnv, body: Any = None) -> Any:
    with env.client("scheduler") as c:
        return c.post("/api/v1/replan", json=body) if body is not None else c.post("/api/v1/replan")


def test_energy_profile_of_a_stored_plan(energy_env: ApiEnv) -> None:
    r = _replan(energy_env)
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    with energy_env.client("viewer") as c:
        got = c.get(f"/api/v1/plans/{version}/energy")
        missing = c.get("/api/v1/plans/999/energy")
    assert got.status_code == 200, got.text
    doc = got.json()
    plan = energy_env.store.get_plan(version)
    assert doc["version"] == version and doc["slot_s"] == 900 and doc["currency"] == "KRW"
    assert doc["kpis"] == energy_kpis(energy_env.store.plant(), plan)
    profile = doc["profile"]
    assert profile and all(s["end_s"] - s["start_s"] <= 900 for s in profile)
    assert sum(s["kwh"] for s in profile) == pytest.approx(doc["kpis"]["kwh"], abs=0.1)
    assert {s["period"] for s in profile} <= {"light", "day"}
    assert max(s["kw"] for s in profile) == pytest.approx(doc["kpis"]["peak_kw_15min"], abs=0.1)
    # The plan's own KPIs carry the same energy figures.
    assert plan.kpis["energy"]["kwh"] == doc["kpis"]["kwh"]
    assert missing.status_code == 404


def test_replan_with_a_cap_and_an_objective(energy_env: ApiEnv) -> None:
    before = energy_env.store.plan_versions()
    r = _replan(energy_env, {"power_cap_kw": 250, "objective": "cost"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert energy_env.store.plan_versions() == [*before, doc["version"]]
    settings = doc["result"]["energy"]
    assert settings["objective"] == "cost" and settings["power_cap_kw"] == 250
    assert settings["cap_source"] == "request"
    stored = energy_env.store.get_plan(doc["version"])
    assert stored.meta["energy"] == settings
    assert stored.kpis["energy"]["peak_kw_since"] <= 250
    audit = next(e for e in energy_env.store.audit(count=100) if e["action"] == "plan.replan")
    assert audit["detail"]["power_cap_kw"] == 250 and audit["detail"]["objective"] == "cost"
    # Without settings the plant file's defaults hold: its contract demand, its objective (energy).
    with energy_env.client("scheduler") as c:
        assert c.post("/api/v1/demand", json={"model": "B", "quantity": 120}).status_code == 200
    again = _replan(energy_env, {})
    assert again.status_code == 200, again.text
    assert again.json()["version"] == doc["version"] + 1
    assert again.json()["result"]["energy"]["cap_source"] == "plant file (contract demand)"
    assert again.json()["result"]["energy"]["objective"] == "energy"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"power_cap_kw": 0}, "power_cap_kw", "greater than 0"),
        ({"power_cap_kw": -5}, "power_cap_kw", "greater than 0"),
        ({"power_cap_kw": "lots"}, "power_cap_kw", "valid number"),
        ({"objective": "money"}, "objective", "'cost', 'energy' or 'time'"),
        ({"power_cap_kw": 300, "no_power_cap": True}, "no_power_cap", "not both"),
        ({"no_power_cap": "yes"}, "no_power_cap", "valid boolean"),
        ({"cap": 300}, "cap", "Extra inputs"),
        ({"power_cap_kw": 100}, None, "the smallest feasible cap is 140 kW"),
    ],
)
def test_bad_replan_settings_are_refused_and_store_nothing(
    energy_env: ApiEnv, body: dict[str, Any], field: str | None, words: str
) -> None:
    before = energy_env.store.plan_versions()
    r = _replan(energy_env, body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert words in err["message"], err
    if field is not None:
        assert err["field"] == field
    assert energy_env.store.plan_versions() == before


def test_a_proposal_takes_the_energy_settings_too(energy_env: ApiEnv) -> None:
    current = energy_env.store.current_plan_version()
    r = _replan(energy_env, {"propose": True, "objective": "cost", "power_cap_kw": 300})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["action"] == "propose" and doc["result"]["energy"]["objective"] == "cost"
    assert doc["result"]["energy"]["power_cap_kw"] == 300
    if doc["result"]["proposed"]:
        assert energy_env.store.current_plan_version() == current
