"""Every endpoint with every role over real HTTP: 401 without a token, 403 below its role, 2xx with it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiEnv
from twin.api.auth import Role, TokenRegistry, generate_tokens, hash_token, new_token, parse_tokens
from twin.errors import ValidationError
from twin.model import Plan
from twin.store.tokens import TokenTable

#: An issued token the matrix revokes.
REVOKE_ID = hash_token("revoke-me")[:12]

# (method, path, json body, role needed)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/api/v1/graph/nodes", None, "viewer"),
    ("GET", "/api/v1/graph/edges", None, "viewer"),
    ("GET", "/api/v1/graph/upstream/L1-ASSY", None, "viewer"),
    ("GET", "/api/v1/graph/downstream/L1-WELD", None, "viewer"),
    ("GET", "/api/v1/graph/route/A", None, "viewer"),
    ("GET", "/api/v1/graph/bottleneck", None, "viewer"),
    ("GET", "/api/v1/stations", None, "viewer"),
    ("GET", "/api/v1/stations/L1-WELD", None, "viewer"),
    ("GET", "/api/v1/history?equipment=L1-WELD", None, "viewer"),
    ("GET", "/api/v1/history/retention", None, "viewer"),
    ("GET", "/api/v1/adapters/problems", None, "viewer"),
    ("GET", "/api/v1/kpi", None, "viewer"),
    ("GET", "/api/v1/kpi/plant", None, "viewer"),
    ("GET", "/api/v1/kpi/lines/L1", None, "viewer"),
    ("GET", "/api/v1/kpi/stations/L1-WELD", None, "viewer"),
    ("GET", "/api/v1/kpi/history", None, "viewer"),
    ("GET", "/api/v1/kpi/history/throughput", None, "viewer"),
    ("GET", "/api/v1/kpi/history/reliability", None, "viewer"),
    ("GET", "/api/v1/kpi/history/downtime", None, "viewer"),
    ("GET", "/api/v1/kpi/history/energy", None, "viewer"),
    ("GET", "/api/v1/demand", None, "viewer"),
    ("GET", "/api/v1/plans", None, "viewer"),
    ("GET", "/api/v1/plans/current", None, "viewer"),
    ("GET", "/api/v1/plans/1", None, "viewer"),
    ("GET", "/api/v1/plans/1/energy", None, "viewer"),
    ("GET", "/api/v1/plans/diff?a=1", None, "viewer"),
    ("GET", "/api/v1/me", None, "viewer"),
    ("GET", "/api/v1/admin/writeback", None, "viewer"),
    ("POST", "/api/v1/demand", {"model": "B", "quantity": 150}, "scheduler"),
    ("POST", "/api/v1/replan", None, "scheduler"),
    ("POST", "/api/v1/plans/1/accept", None, "scheduler"),
    ("POST", "/api/v1/plans/1/dispatch", None, "scheduler"),
    ("PUT", "/api/v1/admin/writeback", {"enabled": True}, "admin"),
    ("GET", "/api/v1/admin/audit", None, "admin"),
    ("GET", "/api/v1/admin/config", None, "admin"),
    ("GET", "/api/v1/layout", None, "viewer"),
    ("GET", "/api/v1/calendar", None, "viewer"),
    ("GET", "/api/v1/models", None, "viewer"),
    ("GET", "/api/v1/resources", None, "viewer"),
    ("GET", "/api/v1/admin/sources", None, "admin"),
    ("GET", "/api/v1/admin/tokens", None, "admin"),
    ("POST", "/api/v1/admin/tokens", {"role": "viewer", "name": "matrix"}, "admin"),
    ("DELETE", f"/api/v1/admin/tokens/{REVOKE_ID}", None, "admin"),
]
PUBLIC = ["/healthz", "/readyz", "/metrics"]


@pytest.fixture(scope="module", autouse=True)
def _one_plan(api_env: ApiEnv) -> None:
    api_env.store.put_plan(Plan(reason="seed", demand={"A": 1}))
    TokenTable(api_env.store).add(hash_token("revoke-me"), "viewer", "revoke-me", created_by="test")


def _call(c: httpx.Client, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    return c.request(method, path, json=body)


def test_every_route_is_in_the_matrix(api_env: ApiEnv) -> None:
    spec = httpx.get(api_env.url + "/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = {(m, p.split("?")[0].replace("L1-ASSY", "{equipment}")) for m, p, _b, _r in ENDPOINTS}
    templ = {
        "/api/v1/graph/downstream/L1-WELD": "/api/v1/graph/downstream/{equipment}",
        "/api/v1/graph/route/A": "/api/v1/graph/route/{model}",
        "/api/v1/stations/L1-WELD": "/api/v1/stations/{equipment}",
        "/api/v1/kpi/lines/L1": "/api/v1/kpi/lines/{line}",
        "/api/v1/kpi/stations/L1-WELD": "/api/v1/kpi/stations/{equipment}",
        "/api/v1/plans/1": "/api/v1/plans/{version}",
        "/api/v1/plans/1/energy": "/api/v1/plans/{version}/energy",
        "/api/v1/plans/1/accept": "/api/v1/plans/{version}/accept",
        "/api/v1/plans/1/dispatch": "/api/v1/plans/{version}/dispatch",
        f"/api/v1/admin/tokens/{REVOKE_ID}": "/api/v1/admin/tokens/{token_id}",
    }
    covered = {(m, templ.get(p, p)) for m, p in covered} | {("GET", p) for p in PUBLIC}
    assert documented == covered


@pytest.mark.parametrize(
    ("method", "path", "body", "need"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _b, _n in ENDPOINTS]
)
def test_roles(api_env: ApiEnv, method: str, path: str, body: dict[str, Any] | None, need: str) -> None:
    with api_env.client(None) as anon:
        r = _call(anon, method, path, body)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert "token" in r.json()["error"]["message"]
        r = anon.request(method, path, json=body, headers={"Authorization": "Bearer not-a-real-token"})
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "unknown API token"
    for role in Role:
        with api_env.client(role.label) as c:
            r = _call(c, method, path, body)
        if role >= Role.parse(need):
            assert 200 <= r.status_code < 300, (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)
            err = r.json()["error"]
            assert err["code"] == "forbidden"
            assert f"needs the {need} role" in err["message"] and role.label in err["message"]


@pytest.mark.parametrize("path", PUBLIC)
def test_ops_endpoints_need_no_token(api_env: ApiEnv, path: str) -> None:
    r = httpx.get(api_env.url + path)
    assert r.status_code == 200


def test_token_lines_round_trip() -> None:
    token, line = new_token(Role.SCHEDULER, "planner-1")
    entries = parse_tokens(f"# comment\n\n{line}  # trailing comment\n")
    assert entries[0].sha256 == hash_token(token) and entries[0].name == "planner-1"
    assert token not in line  # only the hash is stored
    reg = TokenRegistry(entries)
    who = reg.authenticate(token)
    assert who is not None and who.role == Role.SCHEDULER and who.name == "planner-1"
    assert reg.authenticate(token + "x") is None
    assert reg.counts() == {"viewer": 0, "scheduler": 1, "admin": 0}
    tokens, entries = generate_tokens("demo")
    assert {e.name for e in entries} == {"demo-viewer", "demo-scheduler", "demo-admin"}
    admin = TokenRegistry(entries).authenticate(tokens["admin"])
    assert admin is not None and admin.role == Role.ADMIN
    # env-var style: ';'-separated, name optional
    assert len(parse_tokens(f"{hash_token('a')} viewer; {hash_token('b')} admin")) == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc viewer", "not a SHA-256"),
        (f"{hash_token('x')} root", "unknown role"),
        (f"{hash_token('x')}", "expected"),
        ("twn_plaintexttoken viewer", "store hashes"),
    ],
)
def test_bad_token_lines_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        parse_tokens(text, "tokens.txt")
