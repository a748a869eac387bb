"""Redis Cluster specifics: slot layout, cluster URLs, async store, atomic plan switch under contention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.cluster_util import LocalCluster
from tests.conftest import MINI_PLANT
from twin.errors import NotFoundError, StoreError, ValidationError
from twin.model import Plan, PlanAssignment, Plant
from twin.store import AsyncTwinStore, Keys, TwinStore
from twin.store.cluster import is_cluster_url, split_cluster_url

TWIN = str(Path(sys.executable).with_name("twin"))


@pytest.fixture
def cluster(redis_cluster: LocalCluster) -> Iterator[LocalCluster]:
    """The session's cluster, emptied."""
    redis_cluster.flushall()
    yield redis_cluster


def test_cluster_urls_are_parsed() -> None:
    assert is_cluster_url("redis+cluster://h:1") and is_cluster_url("REDISS+CLUSTER://h:1")
    assert not is_cluster_url("redis://h:1/0")
    plain, seeds = split_cluster_url("redis+cluster://u:pw@h1:7000,h2:7001/0?socket_timeout=3")
    assert plain == "redis://u:pw@h1:7000/0?socket_timeout=3"
    assert seeds == [("h1", 7000), ("h2", 7001)]
    assert split_cluster_url("rediss+cluster://[::1]:7000")[1] == [("::1", 7000)]
    for bad in ("redis://h:1", "redis+cluster://h1", "redis+cluster://h1:x", "redis+cluster://:7000"):
        with pytest.raises(StoreError):
            split_cluster_url(bad)


def test_plant_keys_share_one_slot_and_lines_spread(cluster: LocalCluster, mini_plant: Plant) -> None:
    store = TwinStore.from_url(cluster.url)
    store.load_plant(mini_plant)
    t = time.time()
    store.write_changes([(e.id, "state", "Idle", "good", t) for e in mini_plant.equipment()])
    store.set_demand("A", 3)
    store.put_plan(Plan())
    store.append_audit("test", "x")
    client = store.client
    keys = sorted(client.scan_iter(match="sdf:*", count=1000))
    k = Keys("mini")
    plant_keys = [key for key in keys if key.startswith("sdf:{mini}:")]
    assert {
        k.meta,
        k.plant,
        k.nodes,
        k.edges,
        k.changes,
        k.demand,
        k.demand_events,
        k.plans,
        k.plan_current,
        k.plan_counter,
        k.plan(1),
        k.audit,
    } <= set(plant_keys)
    assert len({client.keyslot(key) for key in plant_keys}) == 1  # atomic units share a slot
    live = [key for key in keys if ":live:" in key]
    assert len(live) == len(mini_plant.equipment())
    for line in mini_plant.lines:  # a line's live hashes share a slot ...
        assert len({client.keyslot(k.live(line.id, e.id)) for e in line.equipment}) == 1
    # ... and lines land on different masters (L1 and L2 hash to different nodes)
    nodes = {client.get_node_from_key(key).port for key in live}
    assert len(nodes) >= 2
    store.client.close()


def test_plan_switch_is_atomic_under_contention(redis_url: str, mini_plant: Plant) -> None:
    """Eight threads re-plan concurrently with compare-and-swap: versions 1..N, no lost or doubled one."""
    setup = TwinStore.from_url(redis_url)
    setup.load_plant(mini_plant)
    won: list[int] = []
    lock = threading.Lock()

    def replanner(i: int) -> None:
        s = TwinStore.from_url(redis_url, "mini")
        try:
            for _ in range(5):
                while True:
                    base = s.current_plan_version()
                    plan = Plan(
                        assignments=[
                            PlanAssignment(resource="L1", model="A", quantity=i + 1, start_s=0, end_s=60)
                        ]
                    )
                    try:
                        v = s.put_plan(plan, expect_current=base, check=True)
                    except ValidationError:
                        continue  # someone else switched first: re-plan from the new base
                    with lock:
                        won.append(v)
                    break
        finally:
            s.client.close()

    threads = [threading.Thread(target=replanner, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(won) == list(range(1, 41))
    assert setup.plan_versions() == list(range(1, 41))
    assert setup.current_plan_version() == 40
    setup.client.close()


async def test_async_store_on_both_backends(redis_url: str, mini_plant: Plant) -> None:
    sync = TwinStore.from_url(redis_url)
    sync.load_plant(mini_plant)
    lines = {e.id: e.line for e in mini_plant.equipment()}
    astore = AsyncTwinStore.from_url(redis_url, "mini", lines)
    try:
        t = time.time()
        sid = await astore.write_changes(
            [
                ("L1-WELD", "state", "Running", "good", t),
                ("L2-WELD", "state", "Fault", "good", t),
                ("C-1", "power_kw", float("inf"), "good", t),
            ],
            source="a1",
        )
        [(eid, src, changes)] = await astore.read_changes("0-0")
        assert eid == sid and src == "a1" and len(changes) == 3
        assert changes[2].value is None and changes[2].quality == "bad"
        assert sync.read_tags("L2-WELD")["state"][:2] == ("Fault", "good")
        assert sync.read_tags("C-1")["power_kw"][:2] == (None, "bad")
        assert await astore.writeback_enabled()
        sync.set_writeback_enabled(False, actor="ops")
        assert not await astore.writeback_enabled()
        await astore.append_audit("adapter", "writeback", {"line": "L1"}, result="refused")
        assert sync.audit()[0]["result"] == "refused"
    finally:
        await astore.close()
        sync.client.close()


def test_cli_load_and_status_on_both_backends(redis_url: str) -> None:
    """The `twin` commands take a cluster URL (`redis+cluster://`) like any other Redis URL."""
    env = {**os.environ, "REDIS_URL": redis_url}
    load = subprocess.run(
        [TWIN, "load", "--config", str(MINI_PLANT)], env=env, capture_output=True, text=True
    )
    assert load.returncode == 0, load.stderr
    status = subprocess.run([TWIN, "status", "--json"], env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)["equipment"]
    assert len(rows) == 10 and {r["quality"] for r in rows} == {"stale"}  # loaded, no live data yet
    assert TwinStore.from_url(redis_url).ping()


async def test_batched_write_paths_store_the_same(redis_url: str, backend: str, mini_plant: Plant) -> None:
    """One script call per batch (single node), redis-py's pipeline (cluster, non-ASCII): same outcome."""
    sync = TwinStore.from_url(redis_url)
    sync.load_plant(mini_plant)
    lines = {e.id: e.line for e in mini_plant.equipment()}
    astore = AsyncTwinStore.from_url(redis_url, "mini", lines)
    try:
        assert astore._packable == (backend == "single")
        t = time.time()
        batch = [
            ("L1-WELD", "state", "Running", "good", t),
            ("L1-WELD", "part_count", 41, "good", t),
            ("L2-WELD", "model", 'EV "SUV"\\x', "uncertain", t),
            ("C-1", "power_kw", float("nan"), "good", t),
        ]
        first = await astore.write_changes(batch, source="a1")
        if backend == "single":  # a Redis that forgot the script (restart, SCRIPT FLUSH) gets it again
            raw = redis.Redis.from_url(redis_url)
            raw.script_flush()
            raw.close()
        second = await astore.write_changes([("L1-WELD", "part_count", 42, "good", t + 1)], source="a1")
        blocked = [("L2-WELD", "state", "Blocked", "good", t + 2)]
        third = await astore.write_changes(blocked, source="opcua:Größe")  # not ASCII: the pipeline
        entries = await astore.read_changes("0-0")
        assert [e[0] for e in entries] == [first, second, third]
        assert [e[1] for e in entries] == ["a1", "a1", "opcua:Größe"]
        assert [c.value for c in entries[0][2]] == ["Running", 41, 'EV "SUV"\\x', None]
        assert entries[0][2][3].quality == "bad"
        assert sync.read_tags("L1-WELD")["part_count"] == (42, "good", t + 1)
        assert sync.read_tags("L2-WELD")["model"] == ('EV "SUV"\\x', "uncertain", t)
        assert sync.read_tags("L2-WELD")["state"] == ("Blocked", "good", t + 2)
        assert sync.read_tags("C-1")["power_kw"][:2] == (None, "bad")
        with pytest.raises(NotFoundError):
            await astore.write_changes([("NOPE", "state", "Idle", "good", t)])
    finally:
        await astore.close()
        sync.client.close()
