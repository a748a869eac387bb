"""The Redis twin store against a real redis-server."""

from __future__ import annotations

import math
import time

import pytest

from twin.errors import NotFoundError, SchemaMismatchError, ValidationError
from twin.model import Plan, PlanAssignment, Plant
from twin.store import Keys, TwinStore


def test_load_writes_graph_and_marker(store: TwinStore, mini_plant: Plant) -> None:
    nodes = store.nodes()
    assert {"mini", "L1", "L2", "C", "L1-WELD", "C-AGV"} <= set(nodes)
    assert nodes["L1-PAINT"]["power_kw"] == 80
    edges = store.edges()
    assert ("L1-WELD", "L1-BUF", "feeds") in edges
    assert ("L1-BUF", "L1-PAINT", "feeds") in edges
    assert ("C-AGV", "C-1", "transports") in edges
    assert ("C-1", "C", "part_of") in edges
    assert not any(s == "C-1" and k == "feeds" for s, _t, k in edges)  # cells are not a flow line
    meta = store.meta()
    assert meta["schema"] == "1" and meta["plant_id"] == "mini"
    assert store.plant() == mini_plant


def test_reload_same_is_noop_changed_needs_migration(store: TwinStore, mini_plant: Plant) -> None:
    assert store.load_plant(mini_plant)["changed"] is False
    changed = mini_plant.model_copy(deep=True)
    changed.lines[0].equipment[0].power_kw = 41
    with pytest.raises(SchemaMismatchError, match="--migrate"):
        store.load_plant(changed)
    assert store.nodes()["L1-WELD"]["power_kw"] == 40  # nothing changed
    res = store.load_plant(changed, migrate=True)
    assert res["changed"] and res["migrated"]
    assert store.nodes()["L1-WELD"]["power_kw"] == 41


def test_migration_drops_removed_equipment_live_state(store: TwinStore, mini_plant: Plant) -> None:
    store.write_changes([("L2-ASSY", "state", "Running", "good", time.time())])
    smaller = mini_plant.model_copy(deep=True)
    smaller.lines[1].equipment.pop()  # remove L2-ASSY
    store.load_plant(smaller, migrate=True)
    assert not store.client.exists(Keys("mini").live("L2", "L2-ASSY"))
    assert "L2-ASSY" not in store.nodes()


def test_write_changes_updates_hash_and_stream_in_one_batch(store: TwinStore) -> None:
    t = time.time()
    sid = store.write_changes(
        [("L1-WELD", "state", "Running", "good", t), ("L1-WELD", "part_count", 3, "good", t)], source="test"
    )
    assert sid
    tags = store.read_tags("L1-WELD")
    assert tags["state"] == ("Running", "good", t)
    assert tags["part_count"][0] == 3
    entries = store.read_changes("0-0")
    assert len(entries) == 1
    eid, src, changes = entries[0]
    assert eid == sid and src == "test"
    assert [(c.equipment, c.tag, c.value) for c in changes] == [
        ("L1-WELD", "state", "Running"),
        ("L1-WELD", "part_count", 3),
    ]


def test_nan_is_stored_bad_not_good(store: TwinStore) -> None:
    store.write_changes([("L1-WELD", "power_kw", math.nan, "good", time.time())])
    value, quality, _ = store.read_tags("L1-WELD")["power_kw"]
    assert value is None and quality == "bad"


def test_status_lists_every_equipment_with_worst_quality(store: TwinStore, mini_plant: Plant) -> None:
    t = time.time()
    store.write_changes(
        [("L1-WELD", "state", "Running", "good", t), ("L1-WELD", "power_kw", 30.0, "uncertain", t)]
    )
    rows = {r["id"]: r for r in store.status()}
    assert set(rows) == {e.id for e in mini_plant.equipment()}
    assert rows["L1-WELD"]["state"] == "Running" and rows["L1-WELD"]["quality"] == "uncertain"
    assert rows["L1-PAINT"]["quality"] == "stale" and rows["L1-PAINT"]["updated"] is None
    assert store.mark_stale(["L1-WELD"]) == 2
    assert store.read_tags("L1-WELD")["state"][:2] == ("Running", "stale")


def test_unknown_equipment_is_refused(store: TwinStore) -> None:
    with pytest.raises(NotFoundError, match="NOPE"):
        store.write_changes([("NOPE", "state", "Idle", "good", 0.0)])


@pytest.mark.parametrize("qty", [-1, "abc", 1.5, None, True])
def test_bad_demand_is_refused_and_nothing_changes(store: TwinStore, qty: object) -> None:
    before = store.demand()
    with pytest.raises(ValidationError):
        store.set_demand("A", qty)
    with pytest.raises(ValidationError, match="unknown model"):
        store.set_demand("Z", 5)
    assert store.demand() == before
    assert store.demand_events() == []


def test_demand_event_recorded(store: TwinStore) -> None:
    assert store.demand() == {"A": 100, "B": 200}
    store.set_demand("A", "40", actor="alice")
    assert store.demand()["A"] == 40
    [(_, ev)] = store.demand_events()
    assert ev["model"] == "A" and ev["qty"] == "40" and ev["actor"] == "alice"


def test_plans_are_versioned_and_compare_and_swap(store: TwinStore) -> None:
    p = Plan(assignments=[PlanAssignment(resource="L1", model="A", quantity=10, start_s=0, end_s=600)])
    assert store.put_plan(p) == 1
    assert store.put_plan(p, expect_current=1, check=True) == 2
    with pytest.raises(ValidationError, match="changed meanwhile"):
        store.put_plan(p, expect_current=1, check=True)
    assert store.plan_versions() == [1, 2]
    assert store.get_plan().version == 2
    assert store.get_plan(1).assignments[0].model == "A"
    with pytest.raises(NotFoundError):
        store.get_plan(9)


def test_kill_switch_and_audit(store: TwinStore) -> None:
    assert store.writeback_enabled()
    store.set_writeback_enabled(False, actor="admin")
    assert not store.writeback_enabled()
    [entry] = store.audit()
    assert entry["actor"] == "admin" and entry["detail"] == {"enabled": False}


def test_time_scale_of_a_simulated_plant(store: TwinStore) -> None:
    assert store.time_scale() == 1.0  # a real plant: nothing recorded
    store.set_time_scale(120)
    assert store.time_scale() == 120.0
    for bad in (0.0, -3.0, math.inf, math.nan):
        with pytest.raises(ValidationError, match="time scale must be a positive number"):
            store.set_time_scale(bad)
    assert store.time_scale() == 120.0  # a refused value changes nothing
    store.client.set(store.keys.time_scale, "fast")  # written by hand: ignored, not a crash
    assert store.time_scale() == 1.0
    store.set_time_scale(1.0)
    assert store.client.exists(store.keys.time_scale) == 0


def test_store_finds_the_only_plant(redis_url: str, store: TwinStore) -> None:
    other = TwinStore.from_url(redis_url)
    assert other.plant_id == "mini"
    assert len(other.status()) == 10


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0?socket_timeout=abc"])
def test_a_bad_url_parameter_is_a_store_error(url: str) -> None:
    from twin.errors import StoreError

    with pytest.raises(StoreError, match="bad Redis URL"):
        TwinStore.from_url(url)


def test_delete_plant_removes_every_key_and_only_its_own(store: TwinStore, mini_plant: Plant) -> None:
    store.write_changes([("L1-WELD", "state", "Running", "good", time.time())])
    store.put_plan(Plan())
    other = mini_plant.model_copy(update={"id": "other"}, deep=True)
    keeper = TwinStore(store.client, "other")
    keeper.load_plant(other)
    n = store.delete_plant()
    assert n >= 8  # meta, plant, nodes, edges, demand, changes, plan keys, live hash
    assert not list(store.client.scan_iter(match="sdf:{mini*"))
    assert keeper.nodes() and keeper.plant().id == "other"  # the other plant is untouched


def test_mapping_problems_reported_cleared_per_tag_and_by_a_changed_load(
    store: TwinStore, mini_plant: Plant
) -> None:
    ep = "opc.tcp://plc-1:4840"
    bad = {"equipment": "L1-WELD", "tag": "power_kw", "node": "nsu=urn:x;s=P", "problem": "unknown node"}
    store.set_mapping_problems(
        ep,
        [bad, {**bad, "tag": "state", "problem": "type mismatch", "fatal": False}],
        tags=[("L1-WELD", "state"), ("L1-WELD", "power_kw"), ("L1-WELD", "part_count")],
    )
    store.set_mapping_problems("opc.tcp://plc-2:4840", [{**bad, "equipment": "L2-ASSY"}], [])
    rows = store.mapping_problems()
    assert [(r["equipment"], r["tag"], r["problem"], r["fatal"]) for r in rows] == [
        ("L1-WELD", "power_kw", "unknown node", True),
        ("L1-WELD", "state", "type mismatch", False),
        ("L2-ASSY", "power_kw", "unknown node", True),
    ]
    assert rows[0]["endpoint"] == ep and rows[0]["node"] == "nsu=urn:x;s=P" and rows[0]["reported"] > 0
    assert [r["equipment"] for r in store.mapping_problems("L2")] == ["L2-ASSY"]
    # the next report of the first adapter: state fixed, so its field goes; the other endpoint's stays
    store.set_mapping_problems(ep, [bad], tags=[("L1-WELD", "state"), ("L1-WELD", "power_kw")])
    assert [(r["equipment"], r["tag"]) for r in store.mapping_problems()] == [
        ("L1-WELD", "power_kw"),
        ("L2-ASSY", "power_kw"),
    ]
    assert store.load_plant(mini_plant)["changed"] is False  # the same definition: problems stand
    assert len(store.mapping_problems()) == 2
    changed = mini_plant.model_copy(deep=True)
    changed.lines[0].equipment[0].power_kw = 41
    store.load_plant(changed, migrate=True)  # a new definition: the adapters report afresh
    assert store.mapping_problems() == []
