"""/healthz, /readyz, /metrics on a live twin, and on a twin whose Redis is gone."""

from __future__ import annotations

import time

import httpx

from tests.api.conftest import ApiEnv, make_tokens
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.embedded import free_port
from twin.model import Plan
from twin.store import TwinStore


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in metrics")


def test_health_and_ready(api_env: ApiEnv) -> None:
    assert httpx.get(api_env.url + "/healthz").json() == {"status": "ok"}
    r = httpx.get(api_env.url + "/readyz").json()
    assert r == {"status": "ready", "plant": "mini", "equipment": 10}


def test_metrics(api_env: ApiEnv) -> None:
    store = api_env.store
    now = time.time()
    store.write_changes(
        [("C-1", "state", 1, "good", now - 0.25), ("C-1", "power_kw", 5.0, "good", now - 0.25)]
    )
    store.mark_stale(["C-1"])
    store.put_plan(Plan(reason="metrics", meta={"replan_s": 1.25}))
    text = httpx.get(api_env.url + "/metrics").text
    assert _metric(text, "twin_redis_up") == 1
    assert _metric(text, "twin_stale_tags") >= 2
    assert _metric(text, "twin_ingest_changes_per_second") > 0
    assert _metric(text, "twin_stream_length") >= 2
    assert 0 <= _metric(text, "twin_stream_last_entry_age_seconds") < 60
    assert _metric(text, "twin_replan_last_duration_seconds") == 1.25
    assert _metric(text, "twin_plan_current_version") == store.current_plan_version()
    assert 'twin_http_requests_total{code="200",method="GET"}' in text
    assert "# TYPE twin_tags gauge" in text and 'twin_tags{quality="stale"}' in text


def test_redis_down_gives_503_with_reason_never_500() -> None:
    store = TwinStore.from_url(f"redis://127.0.0.1:{free_port()}/0", "mini")
    tokens, text = make_tokens()
    server = run_api_in_thread(create_app(store, ApiSettings(tokens=parse_tokens(text))))
    try:
        assert httpx.get(server.url + "/healthz").status_code == 200
        r = httpx.get(server.url + "/readyz")
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert "Redis unreachable" in r.json()["error"]["message"]
        r = httpx.get(
            server.url + "/api/v1/stations", headers={"Authorization": f"Bearer {tokens['viewer']}"}
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        m = httpx.get(server.url + "/metrics")
        assert m.status_code == 200 and _metric(m.text, "twin_redis_up") == 0
    finally:
        server.stop()
        store.client.close()


def test_metrics_can_require_a_token(api_env: ApiEnv) -> None:
    tokens, text = make_tokens()
    app = create_app(api_env.store, ApiSettings(tokens=parse_tokens(text), metrics_public=False))
    server = run_api_in_thread(app)
    try:
        assert httpx.get(server.url + "/metrics").status_code == 401
        r = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {tokens['viewer']}"})
        assert r.status_code == 200 and "twin_redis_up 1" in r.text
    finally:
        server.stop()


def test_metric_label_values_are_escaped() -> None:
    from twin.api.ops import _label

    assert _label('opc.tcp://h/"x"\\y\nz') == 'opc.tcp://h/\\"x\\"\\\\y\\nz'
