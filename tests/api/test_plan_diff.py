"""The plan diff endpoint served through the production wiring (the scheduler's re-planner and diff)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.api.conftest import ApiEnv, make_tokens
from tests.conftest import MINI_PLANT
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.api.wiring import scheduler_wiring
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.schedule.plant.plans import plan_diff
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)

DIFF_KEYS = {"from", "to", "added", "removed", "moved", "reassigned", "resized", "models_per_resource"}


@pytest.fixture(scope="module")
def wired_env(api_redis: EmbeddedRedis) -> Iterator[ApiEnv]:
    """The mini plant served with what ``twin serve`` wires in: the scheduler's re-planner and diff."""
    store = TwinStore.from_url(api_redis.url)
    store.client.flushall()
    store.load_plant(load_plant(MINI_PLANT))
    tokens, text = make_tokens()
    wiring = scheduler_wiring(store)
    assert wiring.replan is not None and wiring.diff is plan_diff
    app = create_app(
        store,
        ApiSettings(tokens=parse_tokens(text)),
        replan=wiring.replan,
        dispatch=wiring.dispatch,
        diff=wiring.diff,
    )
    server = run_api_in_thread(app)
    try:
        yield ApiEnv(store=store, server=server, tokens=tokens)
    finally:
        server.stop()
        store.client.close()


def test_diff_of_two_replans_is_the_schedulers_diff(wired_env: ApiEnv) -> None:
    with wired_env.client("scheduler") as c:
        assert c.post("/api/v1/demand", json={"model": "A", "quantity": 40}).status_code == 200
        assert c.post("/api/v1/demand", json={"model": "B", "quantity": 10}).status_code == 200
        first = c.post("/api/v1/replan")
        assert first.status_code == 200, first.text
        assert c.post("/api/v1/demand", json={"model": "A", "quantity": 20}).status_code == 200
        second = c.post("/api/v1/replan")
        assert second.status_code == 200, second.text
        v1, v2 = first.json()["version"], second.json()["version"]
        assert v2 == v1 + 1
        r = c.get("/api/v1/plans/diff", params={"a": v1, "b": v2})
    assert r.status_code == 200, r.text
    diff = r.json()
    store = wired_env.store
    expected = plan_diff(store.get_plan(v1), store.get_plan(v2))
    assert diff == json.loads(json.dumps(expected))
    assert set(diff) >= DIFF_KEYS and diff["from"] == v1 and diff["to"] == v2
    assert diff["demand"] == {"A": {"from": 40, "to": 20}}
    assert diff["kpis"]["cars"] == {"from": 50, "to": 30, "delta": -20}
