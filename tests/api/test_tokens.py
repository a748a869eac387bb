"""Issued tokens over real HTTP on a real Redis: an admin creates, lists and revokes them; they work at
once, a revoked or expired one is refused with that reason, only hashes are stored, every change audited."""

from __future__ import annotations

import time

from tests.api.conftest import ApiEnv
from twin.api.auth import hash_token
from twin.store.tokens import TokenTable


def test_issue_use_list_and_revoke(api_env: ApiEnv) -> None:
    with api_env.client("admin") as adm:
        r = adm.post("/api/v1/admin/tokens", json={"role": "scheduler", "name": "planner <b>7</b>"})
        assert r.status_code == 201, r.text
        made = r.json()
        token, tid = made["token"], made["id"]
        assert (
            made["role"] == "scheduler" and made["state"] == "active" and made["created_by"] == "test-admin"
        )
        assert tid == hash_token(token)[:12]
        stored = api_env.store.client.hgetall(api_env.store.keys.tokens)
        assert hash_token(token) in stored and not any(token in v for v in stored.values())
        listed = adm.get("/api/v1/admin/tokens").json()
        assert "token" not in listed["items"][0] and listed["items"][0]["id"] == tid
        assert listed["configured"] == {"viewer": 1, "scheduler": 1, "admin": 1}
        with api_env.client(None) as anon:
            headers = {"Authorization": f"Bearer {token}"}
            me = anon.get("/api/v1/me", headers=headers).json()
            assert me == {"name": "planner <b>7</b>", "role": "scheduler"}
            assert anon.post("/api/v1/demand", json={"model": "A", "quantity": 5}, headers=headers).is_success
            assert (
                anon.put("/api/v1/admin/writeback", json={"enabled": True}, headers=headers).status_code
                == 403
            )
            r = adm.delete(f"/api/v1/admin/tokens/{tid}")
            assert r.status_code == 200 and r.json()["state"] == "revoked"
            r = anon.get("/api/v1/me", headers=headers)
            assert r.status_code == 401
            err = r.json()["error"]
            assert err["code"] == "token_revoked" and "revoked by test-admin" in err["message"]
        assert adm.delete(f"/api/v1/admin/tokens/{tid}").status_code == 409
        assert adm.delete("/api/v1/admin/tokens/0123456789ab").status_code == 404
        audit = adm.get("/api/v1/admin/audit", params={"limit": 50}).json()["items"]
    mine = [(e["action"], e["result"]) for e in audit if e["detail"].get("id") in (tid, "0123456789ab")]
    assert mine == [
        ("token.revoke", "rejected: no such token"),
        ("token.revoke", f"rejected: token {tid} ('planner <b>7</b>') is revoked already"),
        ("token.revoke", "ok"),
        ("token.create", "ok"),
    ]
    assert not any(token in str(e) for e in audit)


def test_expired_token_is_refused_with_the_reason(api_env: ApiEnv) -> None:
    TokenTable(api_env.store).add(
        hash_token("twn_old"), "viewer", "old-viewer", created_by="test", expires_at=time.time() - 1
    )
    with api_env.client(None) as anon:
        r = anon.get("/api/v1/stations", headers={"Authorization": "Bearer twn_old"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    assert "old-viewer" in r.json()["error"]["message"]
    with api_env.client("admin") as adm:
        states = {t["name"]: t["state"] for t in adm.get("/api/v1/admin/tokens").json()["items"]}
    assert states["old-viewer"] == "expired"


def test_bad_requests_say_what_is_wrong_and_store_nothing(api_env: ApiEnv) -> None:
    before = len(TokenTable(api_env.store).list())
    with api_env.client("admin") as adm:
        r = adm.post("/api/v1/admin/tokens", json={"role": "root", "name": "x"})
        assert r.status_code == 422 and r.json()["error"]["field"] == "role"
        r = adm.post("/api/v1/admin/tokens", json={"role": "viewer", "name": "   "})
        assert r.status_code == 422 and r.json()["error"]["field"] == "name"
        r = adm.post("/api/v1/admin/tokens", json={"role": "viewer", "name": "tab\there"})
        assert r.status_code == 422
        assert adm.post("/api/v1/admin/tokens", json={"role": "viewer", "name": "twice"}).status_code == 201
        r = adm.post("/api/v1/admin/tokens", json={"role": "admin", "name": "twice"})
        assert r.status_code == 409 and "exists already" in r.json()["error"]["message"]
        assert adm.delete("/api/v1/admin/tokens/not-hex").status_code == 422
    assert len(TokenTable(api_env.store).list()) == before + 1
