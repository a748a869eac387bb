"""The re-planner service against a real Redis: thresholds, versioned plans, races, dispatch."""

from __future__ import annotations

import multiprocessing as mp
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.wait import wait_until
from twin.model import Plan
from twin.schedule.plant.replan import ReplanConfig
from twin.schedule.plant.trigger import Replanner, TriggerConfig, demand_changed
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)

MONDAY_6 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp()


def _cfg(threshold: float = 0.1, check: bool = False) -> TriggerConfig:
    return TriggerConfig(
        threshold=threshold, replan=ReplanConfig(time_limit_s=0.5, lot_size=20), check=check, check_seeds=(0,)
    )


def _replanner(store: TwinStore, *, at: float = 1800, **kw: Any) -> Replanner:
    return Replanner(store, config=_cfg(**kw), clock=lambda: MONDAY_6 + at)


def _chain_ok(store: TwinStore) -> list[int]:
    versions = store.plan_versions()
    for v in versions[1:]:
        assert store.get_plan(v).meta["base_version"] == v - 1, f"v{v} was not planned from v{v - 1}"
    return versions


def test_demand_changed_threshold() -> None:
    assert demand_changed({"A": 100, "B": 50}, {"A": 95, "B": 50}, 0.1) == []
    assert demand_changed({"A": 100, "B": 50}, {"A": 40, "B": 50}, 0.1) == ["A"]
    assert demand_changed({"A": 0}, {"A": 1, "B": 3}, 0.5) == ["A", "B"]


def test_replan_stores_checked_versions(store: TwinStore) -> None:
    rp = _replanner(store, check=True)
    first = rp.replan_once("initial")
    assert first.stored and first.version == 1 and first.base_version is None
    assert first.check is not None and first.check["ok"], first.check
    plan = store.get_plan(1)
    assert plan.kpis["unmet"] == 0 and plan.meta["check"]["ok"]
    store.set_demand("A", 40)
    second = rp.replan_once("drop")
    assert second.version == 2 and second.base_version == 1
    assert sum(a.quantity for a in store.get_plan(2).assignments if a.model == "A") == 40
    audit = [e for e in store.audit() if e["action"] == "plan.store"]
    assert [e["detail"]["version"] for e in audit] == [2, 1]


def test_unchanged_demand_stores_nothing(store: TwinStore) -> None:
    rp = _replanner(store)
    rp.replan_once()
    again = rp.replan_once()
    assert not again.stored and again.kept_old and store.plan_versions() == [1]


def test_threshold_decides_what_triggers(store: TwinStore) -> None:
    rp = _replanner(store, threshold=0.2)
    rp.replan_once()
    store.set_demand("B", 190)  # -5 %: below the threshold
    assert rp.pending() == []
    store.set_demand("A", 50)  # -50 %
    assert rp.pending() == ["A"]


def test_concurrent_triggers_never_interleave(redis_url: str, store: TwinStore) -> None:
    _replanner(store).replan_once("initial")
    errors: list[BaseException] = []
    outcomes: list[Any] = []

    def worker(i: int) -> None:
        s = TwinStore.from_url(redis_url)
        try:
            s.set_demand("B", 150 + 10 * i, actor=f"t{i}")
            outcomes.append(_replanner(s, at=1800 + i).replan_once(f"thread {i}"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            s.client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = _chain_ok(store)
    stored = [o.version for o in outcomes if o.stored]
    assert len(set(stored)) == len(stored)  # no version written twice
    assert set(stored) <= set(versions) and len(versions) == 1 + len(stored)
    # The last plan was made for the demand that was current when it was planned.
    assert store.get_plan().demand["B"] in {150 + 10 * i for i in range(4)}


def _process_worker(url: str, i: int, q: Any) -> None:
    s = TwinStore.from_url(url)
    try:
        s.set_demand("A", 60 + 10 * i, actor=f"p{i}")
        out = Replanner(s, config=_cfg(), clock=lambda: MONDAY_6 + 1800).replan_once(f"process {i}")
        q.put(("ok", out.version))
    except BaseException as exc:
        q.put(("error", repr(exc)))


def test_concurrent_processes_never_interleave(redis_url: str, store: TwinStore) -> None:
    _replanner(store).replan_once("initial")
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(redis_url, i, q)) for i in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(r[0] == "ok" for r in results), results
    _chain_ok(store)


def test_service_follows_demand_events(store: TwinStore, redis_url: str) -> None:
    rp = _replanner(store, threshold=0.1)
    rp.replan_once("initial")
    stop = threading.Event()
    svc_store = TwinStore.from_url(redis_url)
    svc = Replanner(svc_store, config=_cfg(threshold=0.1), clock=lambda: MONDAY_6 + 1800)
    t = threading.Thread(target=svc.run, args=(stop,), kwargs={"block_ms": 100})
    t.start()
    try:
        wait_until("the service to follow demand events", lambda: svc.handled_event_id is not None)
        store.set_demand("B", 195)  # small: no re-plan
        small = store.last_demand_event_id()
        wait_until("the service to act on the small demand change", lambda: svc.handled_event_id == small)
        assert store.plan_versions() == [1]
        store.set_demand("A", 40)  # -60 %: re-plan
        wait_until("plan v2", lambda: store.plan_versions() == [1, 2])
        assert store.get_plan(2).demand == {"A": 40, "B": 195}
    finally:
        stop.set()
        t.join(timeout=30)
        svc_store.client.close()
    assert not t.is_alive()


def test_dispatch_goes_per_line_and_honours_the_kill_switch(store: TwinStore) -> None:
    sent: list[tuple[str, Plan]] = []

    def writeback(line: str, plan: Plan) -> dict[str, Any]:
        sent.append((line, plan))
        return {"ok": True, "status": "accepted"}

    rp = Replanner(store, config=_cfg(), writeback=writeback, clock=lambda: MONDAY_6 + 600)
    out = rp.replan_once()
    assert out.dispatch == {line: {"ok": True, "status": "accepted"} for line in ("C", "L1", "L2")}
    assert {line for line, _ in sent} == {"L1", "L2", "C"}
    for line, plan in sent:
        assert plan.version == out.version and plan.meta["line"] == line
        assert all(a.start_s >= 0 for a in plan.assignments)  # relative to the dispatch time
    assert sum(a.quantity for _l, p in sent for a in p.assignments) <= 300
    store.set_writeback_enabled(False, actor="operator")
    sent.clear()
    store.set_demand("A", 30)
    blocked = rp.replan_once()
    assert blocked.stored and blocked.dispatch == {"blocked": "write-back is switched off"} and sent == []
    assert any(e["action"] == "plan.dispatch" and e["result"] == "blocked" for e in store.audit())
