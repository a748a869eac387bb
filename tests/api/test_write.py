"""Write endpoints: validation with reasons and nothing changed, audit entries, plans, kill switch, limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiEnv, make_tokens
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import hash_token, parse_tokens


def _audit(env: ApiEnv, action: str) -> list[dict[str, Any]]:
    return [e for e in env.store.audit(count=1000) if e["action"] == action]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"model": "A", "quantity": -5}, "quantity", "greater than or equal to 0"),
        ({"model": "Z", "quantity": 5}, "model", "unknown model 'Z'"),
        ({"model": "A", "quantity": "lots"}, "quantity", "valid integer"),
        ({"model": "A", "quantity": "5"}, "quantity", "valid integer"),  # strings are not numbers here
        ({"model": "A", "quantity": 2.5}, "quantity", "valid integer"),
        ({"model": "A", "quantity": True}, "quantity", "valid integer"),
        ({"model": "A", "quantity": None}, "quantity", "valid integer"),
        ({"model": "A"}, "quantity", "Field required"),
        ({"model": "A", "quantity": 5, "extra": 1}, "extra", "Extra inputs"),
        ({"model": "", "quantity": 5}, "model", "at least 1 character"),
        ([1, 2], None, "valid dictionary"),
    ],
)
def test_bad_demand_is_refused_and_changes_nothing(
    api_env: ApiEnv, body: Any, field: str | None, words: str
) -> None:
    before = api_env.store.demand()
    events = len(api_env.store.demand_events())
    with api_env.client("scheduler") as c:
        r = c.post("/api/v1/demand", json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and words in err["message"]
    if field:
        assert err["field"] == field
    assert api_env.store.demand() == before
    assert len(api_env.store.demand_events()) == events


def test_malformed_json_gets_the_error_format(api_env: ApiEnv) -> None:
    with api_env.client("scheduler") as c:
        r = c.post(
            "/api/v1/demand",
            content=b'{"model": "A", "quantity": ',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_set_demand_is_audited(api_env: ApiEnv) -> None:
    with api_env.client("scheduler") as c:
        r = c.post("/api/v1/demand", json={"model": "A", "quantity": 40})
    assert r.status_code == 200
    assert api_env.store.demand()["A"] == 40
    ev = api_env.store.demand_events()[-1][1]
    assert ev["model"] == "A" and ev["qty"] == "40" and ev["actor"] == "test-scheduler"
    entry = next(e for e in _audit(api_env, "demand.set") if e["id"] == r.json()["audit_id"])
    assert entry["actor"] == "test-scheduler" and entry["result"] == "ok"
    assert entry["detail"]["model"] == "A" and entry["detail"]["quantity"] == 40
    assert entry["detail"]["role"] == "scheduler" and float(entry["ts"]) > 0
    # a refused write is audited as well
    with api_env.client("admin") as c:
        c.post("/api/v1/demand", json={"model": "Q", "quantity": 1})
    assert (
        _audit(api_env, "demand.set")[0]["result"].startswith("rejected")
        and _audit(api_env, "demand.set")[0]["actor"] == "test-admin"
    )


def test_replan_accept_diff_dispatch(api_env: ApiEnv) -> None:
    with api_env.client("scheduler") as c:
        c.post("/api/v1/demand", json={"model": "B", "quantity": 80})
        r1 = c.post("/api/v1/replan").json()
        c.post("/api/v1/demand", json={"model": "B", "quantity": 30})
        r2 = c.post("/api/v1/replan").json()
        v1, v2 = r1["version"], r2["version"]
        assert v2 == v1 + 1 and r2["result"]["assignments"] >= 1
        assert c.get("/api/v1/plans/current").json()["version"] == v2
        listing = c.get("/api/v1/plans", params={"limit": 1}).json()
        assert listing["items"][0]["version"] == v2 and listing["items"][0]["current"] is True
        assert listing["next_offset"] == 1
        diff = c.get("/api/v1/plans/diff", params={"a": v1, "b": v2}).json()
        assert diff  # what changed: B's lot got smaller (the scheduler's diff: twin plan diff's shape)
        assert "B" in str(diff)
        assert diff["from"] == v1 and diff["to"] == v2 and diff["demand"] == {"B": {"from": 80, "to": 30}}
        assert [(x["model"], x["from"], x["to"]) for x in diff["resized"]] == [("B", 80, 30)]
        # accept the older plan again (roll back), then dispatch it
        assert c.post(f"/api/v1/plans/{v1}/accept").json()["action"] == "accept"
        assert c.get("/api/v1/plans/current").json()["version"] == v1
        d = c.post(f"/api/v1/plans/{v1}/dispatch").json()
        assert d["result"]["dispatched"] == v1 and api_env.dispatched[-1] == v1
        r = c.post("/api/v1/plans/999/accept")
        assert r.status_code == 404 and "999" in r.json()["error"]["message"]
        assert c.post("/api/v1/plans/999/dispatch").status_code == 404
        assert c.get("/api/v1/plans/0").status_code == 422
    actions = {e["action"] for e in api_env.store.audit(count=100)}
    assert {"plan.replan", "plan.accept", "plan.dispatch"} <= actions


def test_kill_switch_blocks_dispatch(api_env: ApiEnv) -> None:
    v = api_env.store.current_plan_version() or api_env.store.put_plan(__import__("twin.model").model.Plan())
    with api_env.client("admin") as admin:
        r = admin.put("/api/v1/admin/writeback", json={"enabled": False, "reason": "maintenance"})
        assert r.json() == {"enabled": False}
        n = len(api_env.dispatched)
        with api_env.client("scheduler") as c:
            r = c.post(f"/api/v1/plans/{v}/dispatch")
            assert r.status_code == 409 and "kill switch" in r.json()["error"]["message"]
            assert c.get("/api/v1/admin/writeback").json() == {"enabled": False}
        assert len(api_env.dispatched) == n
        assert admin.put("/api/v1/admin/writeback", json={"enabled": True}).json() == {"enabled": True}
        r = admin.put("/api/v1/admin/writeback", json={"enabled": "yes"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "enabled"
        audit = admin.get("/api/v1/admin/audit", params={"limit": 5}).json()
    switch = [e for e in audit["items"] if e["action"] == "writeback.switch"]
    assert switch[0]["actor"] == "test-admin" and switch[0]["detail"] == {"enabled": True}
    assert any(
        e["action"] == "writeback.reason" and e["detail"]["reason"] == "maintenance"
        for e in api_env.store.audit(count=20)
    )
    blocked = _audit(api_env, "plan.dispatch")[0]
    assert blocked["result"].startswith("refused") and blocked["actor"] == "test-scheduler"


def test_config_hides_token_hashes(api_env: ApiEnv) -> None:
    with api_env.client("admin") as c:
        cfg = c.get("/api/v1/admin/config").json()
    assert cfg["plant"]["id"] == "mini" and cfg["api"]["tokens_per_role"] == {
        "viewer": 1,
        "scheduler": 1,
        "admin": 1,
    }
    assert "tokens" not in cfg["api"] and cfg["wired"] == {"replan": True, "dispatch": True}
    assert all(hash_token(t) not in str(cfg) and t not in str(cfg) for t in api_env.tokens.values())


def test_body_size_limit(api_env: ApiEnv) -> None:
    big = b'{"model": "A", "quantity": 1, "pad": "' + b"x" * 70_000 + b'"}'
    with api_env.client("scheduler") as c:
        r = c.post("/api/v1/demand", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large" and "65536" in r.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            for _ in range(10):
                yield b"x" * 10_000

        r = c.post("/api/v1/demand", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


@pytest.fixture
def bare_api(api_env: ApiEnv) -> Iterator[tuple[str, dict[str, str]]]:
    """The same twin served without a re-planner or dispatcher wired in."""
    tokens, text = make_tokens()
    server = run_api_in_thread(create_app(api_env.store, ApiSettings(tokens=parse_tokens(text))))
    try:
        yield server.url, tokens
    finally:
        server.stop()


def test_unwired_functions_answer_503_with_reason(
    api_env: ApiEnv, bare_api: tuple[str, dict[str, str]]
) -> None:
    url, tokens = bare_api
    v = api_env.store.current_plan_version()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['scheduler']}"}) as c:
        r = c.post("/api/v1/replan")
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_configured"
        assert "re-planner" in r.json()["error"]["message"]
        r = c.post(f"/api/v1/plans/{v}/dispatch")
        assert r.status_code == 503 and "write-back" in r.json()["error"]["message"]
