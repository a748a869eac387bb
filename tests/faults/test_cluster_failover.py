"""Redis Cluster failover with real processes: 3 masters + 3 replicas, a `twin adapt` mirroring a PLC
server that logs every value, a `twin replanner`, and the API. The master holding the plant's slot (change
stream, plans, demand) is SIGKILLed mid-ingest, right after a demand change; its replica is promoted, the
dead node restarted. Every value the PLC wrote reaches the stream, the re-planner carries on, the API
answers. (A kill in the middle of the plan compare-and-swap is `twin bench failover`'s: its re-planner
switches versions every 50 ms through the kill, and every acknowledged version survives.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.localcluster import LocalCluster
from tests.faults.conftest import PUBLISH_INTERVAL_MS, STALE_AFTER_S
from tests.faults.harness import TWIN, PlcServer, Proc, fault_plant, free_ports, record
from tests.faults.test_redis_faults import missing_values
from tests.helpers import cli_env, run_twin
from tests.support.wait import wait_until
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import generate_tokens
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.errors import StoreAccessError, StoreUnavailableError
from twin.store import TwinStore


class _Rig:
    """Enough of :class:`tests.faults.conftest.Rig` for :func:`missing_values` (its store and PLC)."""

    def __init__(self, store: TwinStore) -> None:
        self.store = store


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(masters=3, replicas=1, node_timeout_ms=1000) as c:
        yield c


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_master_killed_mid_ingest_and_replan_everything_carries_on(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    (port,) = free_ports(1)
    plant_file = fault_plant(tmp_path / "plant.yaml", {"L1": port})
    url = cluster.url + "?replicas=1"  # demand and plans are on a replica before they count as stored
    store = TwinStore.from_url(url)
    store.load_plant(load_plant(plant_file))
    plc = PlcServer(plant_file, "L1", port, tmp_path).start_ready()
    env = {"REDIS_URL": url}
    adapt = [TWIN, "adapt", "--config", str(plant_file), "--publish-interval-ms", str(PUBLISH_INTERVAL_MS),
             "--stale-after", str(STALE_AFTER_S)]  # fmt: skip
    adapter = Proc(adapt, tmp_path / "adapter.out", env=env).start()
    replan = [TWIN, "replanner", "--threshold", "0", "--time-limit", "2", "--no-check", "--no-dispatch"]
    replanner = Proc(replan, tmp_path / "replanner.out", env=env).start()
    tokens, entries = generate_tokens("failover")
    api = run_api_in_thread(create_app(TwinStore.from_url(url, "faults"), ApiSettings(tokens=entries)))
    rig = _Rig(store)
    try:
        wait_until("every station good", lambda: {r["quality"] for r in store.status()} == {"good"}, 60)
        wait_until(
            "the re-planner following demand", lambda: "re-planner following" in replanner.output(), 60
        )
        t_first = time.time()
        wait_until("a PLC tick in Redis", lambda: plc.ticks_after(t_first) and not missing_values(
            rig, plc, t_first, plc.ticks_after(t_first)[0]), 20)  # fmt: skip
        store.set_demand("A", 25, actor="test")  # on a replica too (replicas=1) ...
        dead, replicas = cluster.kill_master_of(store.keys.changes)  # ... before its master dies
        t_kill = time.monotonic()
        cluster.wait_promoted(replicas, 60)
        t_promoted = time.monotonic()
        cluster.restart(dead)  # back as the new master's replica
        t_back = time.time()
        tick = wait_until("a PLC tick after the promotion", lambda: plc.ticks_after(t_back)[:1], 20)[0]
        wait_until("ingest resumed", lambda: not missing_values(rig, plc, tick, tick), 30)
        t_resumed = time.monotonic()

        def replanned() -> bool:
            try:
                return store.get_plan().demand.get("A") == 25
            except Exception:
                return False

        wait_until("a plan for the new demand", replanned, 60)
        t_plan = time.monotonic()
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {tokens['viewer']}"}) as c:
            demand = c.get("/api/v1/demand")
        assert demand.status_code == 200 and demand.json()["demand"]["A"] == 25, demand.text
        assert adapter.alive() and replanner.alive(), adapter.output()[-2000:] + replanner.output()[-2000:]
        lost = missing_values(rig, plc, t_first, tick)
        versions = store.plan_versions()
        assert versions == sorted(set(versions)) and store.current_plan_version() == versions[-1]
        record(
            "cluster_failover",
            {
                "kill_to_promotion_s": round(t_promoted - t_kill, 2),
                "promotion_to_ingest_resumed_s": round(t_resumed - t_promoted, 2),
                "promotion_to_replanned_s": round(t_plan - t_promoted, 2),
                "values_checked": len([x for x in plc.logged() if t_first <= x[0] <= tick]),
                "lost": len(lost),
                "plan_versions": versions,
            },
        )
        assert not lost, f"{len(lost)} values the PLC wrote never reached Redis, e.g. {lost[:5]}"
        assert adapter.terminate() == 0, adapter.output()[-2000:]
    finally:
        api.stop()
        for p in (adapter, replanner, plc):
            p.close()
        store.close()


def test_cluster_seeds_in_any_order_or_one_down_work(cluster: LocalCluster) -> None:
    """Seeds are tried in turn: any order works, a dead seed is skipped; all seeds down is one clear error."""
    ports = cluster.ports
    store = TwinStore.from_url("redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in reversed(ports)))
    assert store.ping()
    store.close()
    (dead,) = free_ports(1)  # nothing listens there
    store = TwinStore.from_url(f"redis+cluster://127.0.0.1:{dead},127.0.0.1:{ports[2]}")
    assert store.ping()
    store.close()
    with pytest.raises(StoreUnavailableError, match="check the host:port seeds"):
        TwinStore.from_url(f"redis+cluster://127.0.0.1:{dead}").ping()
    single = EmbeddedRedis().start()
    try:
        with pytest.raises(StoreAccessError, match="use redis:// for a single server"):
            TwinStore.from_url(f"redis+cluster://127.0.0.1:{single.port}").ping()
    finally:
        single.stop()


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_bench_failover_quick_json_loses_nothing() -> None:
    out = run_twin("bench", "failover", "--quick", "--json", env=cli_env(), timeout=160)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    assert {"resume_s", "changes_lost", "plan_versions_ok", "masters", "replicas"} <= set(res)
    assert res["masters"] == 3 and res["replicas"] == 3 and res["resume_s"] is not None
    assert res["changes_lost"] == 0 and res["changes_accepted"] > 0, res
    assert res["plan_versions_ok"] is True and res["plan_versions_acknowledged"] > 0, res
    assert res["batches_buffered_during_outage"] > 0 and res["errors"] == [], res
