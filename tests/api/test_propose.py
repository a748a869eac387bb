"""Re-plan into a proposal over real HTTP with the scheduler's real wiring on a real Redis: the proposal is
the next version but not current and not dispatched until accepted; a proposal made from a plan that is
no longer current cannot be accepted; the audit log says who proposed and accepted what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import ApiEnv, make_tokens
from tests.conftest import MINI_PLANT
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.api.wiring import scheduler_wiring
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.model import Plan
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def wired(api_redis: EmbeddedRedis) -> Iterator[ApiEnv]:
    """The mini plant with the real re-planner; dispatch recorded by the write-back callable it is handed."""
    store = TwinStore.from_url(api_redis.url)
    store.client.flushall()
    store.load_plant(load_plant(MINI_PLANT))
    sent: list[int] = []

    def writeback(line: str, plan: Plan) -> dict[str, Any]:
        sent.append(plan.version)
        return {"ok": True}

    wiring = scheduler_wiring(store, writeback)
    tokens, text = make_tokens()
    app = create_app(
        store,
        ApiSettings(tokens=parse_tokens(text)),
        replan=wiring.replan,
        propose=wiring.propose,
        dispatch=wiring.dispatch,
        diff=wiring.diff,
    )
    server = run_api_in_thread(app)
    try:
        yield ApiEnv(store=store, server=server, tokens=tokens, dispatched=sent)
    finally:
        server.stop()
        store.client.close()


def test_a_proposal_waits_for_acceptance(wired: ApiEnv) -> None:
    store = wired.store
    with wired.client("scheduler") as c:
        assert c.post("/api/v1/replan").json()["version"] == 1  # no body: the plan is current at once
        assert store.current_plan_version() == 1
        assert c.post("/api/v1/demand", json={"model": "B", "quantity": 60}).is_success
        r = c.post("/api/v1/replan", json={"propose": True}).json()
        assert r["version"] == 2 and r["action"] == "propose" and r["result"]["proposed"] is True
        assert store.current_plan_version() == 1 and wired.dispatched == []
        v2 = store.get_plan(2)
        assert v2.meta["proposed"] is True and v2.meta["base_version"] == 1 and v2.demand["B"] == 60
        items = {p["version"]: p for p in c.get("/api/v1/plans").json()["items"]}
        assert items[2]["proposed"] and not items[2]["current"] and items[2]["base_version"] == 1
        assert items[1]["current"] and not items[1]["proposed"]
        assert c.post("/api/v1/plans/2/accept").is_success
        assert store.current_plan_version() == 2
        assert c.post("/api/v1/plans/2/dispatch").json()["result"]
        assert set(wired.dispatched) == {2}
    actions = [(e["actor"], e["action"], e["detail"].get("version")) for e in store.audit(20)]
    assert ("test-scheduler", "plan.propose", 2) in actions and ("api", "plan.propose", 2) in actions
    assert actions.index(("test-scheduler", "plan.accept", 2)) < actions.index(
        ("test-scheduler", "plan.propose", 2)
    )


def test_a_stale_proposal_is_refused(wired: ApiEnv) -> None:
    store = wired.store
    base = store.current_plan_version()
    assert base is not None
    with wired.client("scheduler") as c:
        assert c.post("/api/v1/demand", json={"model": "B", "quantity": 20}).is_success
        p = c.post("/api/v1/replan", json={"propose": True}).json()["version"]
        assert c.post("/api/v1/plans/1/accept").is_success  # someone rolls back meanwhile
        r = c.post(f"/api/v1/plans/{p}/accept")
        assert r.status_code == 409
        assert (
            f"proposed from v{base}" in r.json()["error"]["message"]
            and "re-plan" in r.json()["error"]["message"]
        )
        assert store.current_plan_version() == 1
        assert c.post("/api/v1/replan", json={"propose": "yes"}).status_code == 422
        assert c.post("/api/v1/replan", json={"propose": True, "x": 1}).status_code == 422
    refused = [e for e in store.audit(10) if e["action"] == "plan.accept" and e["detail"]["version"] == p]
    assert len(refused) == 1 and refused[0]["result"].startswith(f"rejected: v{p} was proposed from v{base}")
