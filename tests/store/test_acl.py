"""Least-privilege Redis ACL users per role (``twin redis acl``) on a real redis-server 7 (Debian's): the
adapter writes only live state and the change stream, the viewer writes nothing; a refusal is one clear
error naming what to do, and nothing is stored."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MINI_PLANT
from tests.support.tlsredis import TlsRedis, tls_redis
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import generate_tokens
from twin.errors import StoreAccessError
from twin.model import Plan, Plant
from twin.store import AsyncTwinStore, TwinStore

TWIN = str(Path(sys.executable).with_name("twin"))


class Users:
    """The users ``twin redis acl --apply`` made, and URLs to connect as each."""

    def __init__(self, server: TlsRedis, passwords: dict[str, str]) -> None:
        self.server = server
        self.passwords = passwords

    def url(self, role: str) -> str:
        return f"redis://twin-{role}:{self.passwords[role]}@127.0.0.1:{self.server.server.port}/0"

    def tls_url(self, role: str) -> str:
        return self.server.url().replace("rediss://", f"rediss://twin-{role}:{self.passwords[role]}@")


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Users]:
    """Debian's redis-server with the plant loaded by the default user and every role's user applied."""
    with tls_redis(tmp_path_factory.mktemp("acl")) as server:
        env = {**os.environ, "REDIS_URL": server.plain_url}
        load = subprocess.run([TWIN, "load", "--config", str(MINI_PLANT)], env=env, capture_output=True)
        assert load.returncode == 0, load.stderr
        out = subprocess.run([TWIN, "redis", "acl", "--config", str(MINI_PLANT), "--apply"],
                             env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        passwords = dict(re.findall(r"redis://twin-(\w+):([^@]+)@", out.stdout))
        assert set(passwords) == {"adapter", "viewer", "replanner", "api", "admin"}, out.stdout
        rules = [line for line in out.stdout.splitlines() if line.startswith("ACL SETUSER")]
        assert not [pw for pw in passwords.values() for line in rules if pw in line]  # stored as hashes
        yield Users(server, passwords)


def refused(fn: object, what: str) -> str:
    with pytest.raises(StoreAccessError) as err:
        fn()  # type: ignore[operator]
    msg = str(err.value)
    assert what in msg and "twin redis acl" in msg and "permission" in msg, msg
    return msg


async def test_adapter_user_writes_live_state_but_not_plans(users: Users, mini_plant: Plant) -> None:
    store = TwinStore.from_url(users.url("adapter"), "mini")
    store.load_plant(mini_plant)  # what `twin adapt` does at start: a read when the plant is loaded
    store.check_ingest_access()
    lines = {e.id: e.line for e in mini_plant.equipment()}
    astore = AsyncTwinStore.from_url(users.tls_url("adapter"), "mini", lines)  # TLS and ACL together
    try:
        await astore.write_changes([("L1-WELD", "state", "Running", "good", time.time())], source="a")
    finally:
        await astore.close()
    assert store.read_tags("L1-WELD")["state"][:2] == ("Running", "good")
    refused(lambda: store.put_plan(Plan()), "storing a plan")
    refused(lambda: store.set_demand("A", 3), "setting demand")
    refused(lambda: store.set_writeback_enabled(False, "adapter"), "write-back switch")
    admin = TwinStore.from_url(users.server.plain_url, "mini")
    assert admin.plan_versions() == [] and admin.demand() == {"A": 100, "B": 200}
    assert admin.writeback_enabled()
    store.close()
    admin.close()


async def test_viewer_user_reads_and_cannot_write_at_all(users: Users, mini_plant: Plant) -> None:
    admin = TwinStore.from_url(users.server.plain_url, "mini")
    before = admin.change_stream_info()["length"], admin.audit_length()
    viewer = TwinStore.from_url(users.url("viewer"))
    assert viewer.plant_id == "mini" and len(viewer.status()) == 10  # finding the plant needs SCAN only
    viewer.read_changes()
    refused(lambda: viewer.write_changes([("L1-WELD", "state", "Fault", "good", time.time())]), "live state")
    refused(viewer.check_ingest_access, "twin adapt")
    refused(lambda: viewer.put_plan(Plan()), "storing a plan")
    refused(lambda: viewer.set_demand("A", 1), "setting demand")
    refused(lambda: viewer.append_audit("viewer", "x"), "audit log")
    lines = {e.id: e.line for e in mini_plant.equipment()}
    astore = AsyncTwinStore.from_url(users.url("viewer"), "mini", lines)
    try:
        with pytest.raises(StoreAccessError):
            await astore.write_changes([("L1-WELD", "state", "Fault", "good", time.time())])
    finally:
        await astore.close()
    assert (admin.change_stream_info()["length"], admin.audit_length()) == before  # nothing stored
    assert admin.read_tags("L1-WELD").get("state", (None,))[0] != "Fault"
    replanner = TwinStore.from_url(users.url("replanner"), "mini")
    assert replanner.put_plan(Plan()) >= 1  # the re-planner may
    refused(lambda: replanner.write_changes([("L1-WELD", "state", "Fault", "good", time.time())]), "live")
    for s in (admin, viewer, replanner):
        s.close()


def test_cli_as_a_user_without_the_permission_is_one_clear_line(users: Users) -> None:
    env = {**os.environ, "REDIS_URL": users.url("viewer")}
    adapt = subprocess.run([TWIN, "adapt", "--config", str(MINI_PLANT), "--duration", "5"],
                           env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert adapt.returncode == 1 and "twin redis acl" in adapt.stderr and "twin adapt" in adapt.stderr
    demand = subprocess.run([TWIN, "demand", "set", "A", "3"], env=env, capture_output=True, text=True)
    assert demand.returncode == 1 and "setting demand" in demand.stderr
    for out in (adapt, demand):
        assert "Traceback" not in out.stderr and users.passwords["viewer"] not in out.stderr


def test_api_on_a_viewer_user_serves_reads_and_refuses_writes_with_a_reason(users: Users) -> None:
    import httpx

    store = TwinStore.from_url(users.url("viewer"), "mini")
    tokens, entries = generate_tokens("acl")
    server = run_api_in_thread(create_app(store, ApiSettings(tokens=entries)))
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['admin']}"}) as c:
            assert c.get("/api/v1/stations").status_code == 200
            r = c.post("/api/v1/demand", json={"model": "A", "quantity": 4})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "store_access_denied" and "twin redis acl" in r.text
    finally:
        server.stop()
        store.close()
