"""Mapping and batched ingest against real asyncua servers and a real Redis."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import cast

import pytest
import redis

from adapters.opcua.session import AdapterOptions, EndpointAdapter
from benchmarks.tagserver import TagServer, plant_tags, serve
from tests.adapters import helpers
from tests.helpers import free_port, url_of
from tests.support.wait import wait_until_async
from twin.model import Plant, TagDef, TagType
from twin.store import AsyncTwinStore, TwinStore

pytestmark = pytest.mark.timeout(60)

wait_until = partial(wait_until_async, timeout=10.0)  # this file's waits are all short ones

FAST = AdapterOptions(
    publish_interval_ms=50, keepalive_s=0.5, stale_after_s=2.0, backoff_initial_s=0.1, backoff_max_s=0.5
)


def live(store: TwinStore, eq: str) -> dict[str, tuple[object, str, float]]:
    return store.read_tags(eq)


@pytest.fixture
async def l1_server(mini_plant: Plant) -> AsyncIterator[TagServer]:
    async with serve(free_port(), plant_tags(mini_plant, "L1"), plan_lines=["L1"]) as ts:
        yield ts


async def start_adapter(
    plant: Plant, url: str, redis_url: str, line: str = "L1", options: AdapterOptions = FAST
) -> tuple[EndpointAdapter, asyncio.Task[None], AsyncTwinStore]:
    return await helpers.start_adapter(plant, url, redis_url, options, {line: url})


stop_adapter = partial(helpers.stop_adapter, timeout=10.0)


async def test_values_mirror_with_quality_and_batches(
    store: TwinStore, mini_plant: Plant, l1_server: TagServer
) -> None:
    adapter, task, astore = await start_adapter(mini_plant, l1_server.url, url_of(store))
    try:
        await adapter.wait_connected(15)
        assert adapter.status.problems == []
        assert adapter.status.tags == len(plant_tags(mini_plant, "L1"))
        await l1_server.write("L1-WELD", "power_kw", 42.5)
        await l1_server.write("L1-WELD", "part_count", 7)
        await l1_server.write("L1-WELD", "state", 1)
        await l1_server.write("L1-WELD", "model", "A")
        await wait_until("model A", lambda: live(store, "L1-WELD").get("model", (None,))[0] == "A")
        await wait_until("power 42.5", lambda: live(store, "L1-WELD")["power_kw"][0] == 42.5)
        tags = live(store, "L1-WELD")
        assert tags["part_count"][:2] == (7, "good")
        assert tags["state"][:2] == ("Running", "good")  # enumeration codes are mirrored as names
        assert tags["power_kw"][2] > 1e9  # a source timestamp (epoch seconds)
        # Each change-stream entry is one batch (many changes), not one entry per notification.
        entries = store.change_range()
        assert sum(len(c) for _id, _src, c in entries) >= len(plant_tags(mini_plant, "L1"))
        assert any(len(c) > 1 for _id, _src, c in entries)
        assert all(src.startswith("opcua:") for _id, src, _c in entries)
        assert adapter.sink.counters.batches_written == len(entries)
        assert adapter.sink.counters.fast_decoded > 0  # data changes took the fast decoder
    finally:
        await stop_adapter(adapter, task, astore)


async def test_bad_values_and_status_are_marked_bad(
    store: TwinStore, mini_plant: Plant, l1_server: TagServer
) -> None:
    from asyncua import ua

    adapter, task, astore = await start_adapter(mini_plant, l1_server.url, url_of(store))
    try:
        await adapter.wait_connected(15)
        await l1_server.write("L1-WELD", "power_kw", math.nan)  # NaN
        await l1_server.write("L1-WELD", "cycle_time_s", -5.0)  # below min 0
        await l1_server.write("L1-WELD", "part_count", "lots", variant=ua.VariantType.String)  # wrong type
        await l1_server.write("L1-WELD", "energy_kwh", 3.0, status=ua.StatusCodes.UncertainLastUsableValue)
        await l1_server.write("L1-WELD", "alarm", "x", status=ua.StatusCodes.BadSensorFailure)
        await l1_server.write("L1-WELD", "state", 99)  # not a code of the enumeration
        await l1_server.write("L1-PAINT", "power_kw", 1.5)  # a good one, written last
        await wait_until("paint power 1.5", lambda: live(store, "L1-PAINT")["power_kw"][0] == 1.5)
        await wait_until("a bad alarm", lambda: live(store, "L1-WELD")["alarm"][1] == "bad")
        t = live(store, "L1-WELD")
        assert t["power_kw"][:2] == (None, "bad")
        assert t["cycle_time_s"][:2] == (-5.0, "bad")
        assert t["part_count"][:2] == ("lots", "bad")
        assert t["energy_kwh"][:2] == (3.0, "uncertain")
        assert t["alarm"][1] == "bad"
        assert t["state"][:2] == (99, "bad")
        assert adapter.sink.counters.bad_values >= 3
        assert adapter.sink.counters.bad_status >= 1
    finally:
        await stop_adapter(adapter, task, astore)


async def test_mapping_problems_are_reported_by_name_and_rest_mirrors(
    redis_url: str, mini_plant: Plant, l1_server: TagServer
) -> None:
    plant = mini_plant.model_copy(deep=True)
    weld = plant.line_by_id()["L1"].equipment[0]
    weld.extra_tags = [
        TagDef(name="ghost", type=TagType.FLOAT),  # default node does not exist
        TagDef(name="wrong", type=TagType.BOOL, node="nsu=urn:sdf-twin:sim;s=L1-WELD.power_kw"),  # Double
        TagDef(name="badns", node="nsu=urn:nowhere;s=x"),
        TagDef(name="folder", node="nsu=urn:sdf-twin:sim;s=L1-WELD"),  # an Object, not a Variable
        TagDef(name="via_path", type=TagType.FLOAT, browse_path=["urn:sdf-twin:sim:L1-WELD", "power_kw"]),
        TagDef(name="watts", type=TagType.FLOAT, unit="W", node="nsu=urn:sdf-twin:sim;s=L1-WELD.power_kw"),
        TagDef(name="secs", type=TagType.FLOAT, unit="s", node="nsu=urn:sdf-twin:sim;s=L1-WELD.power_kw"),
    ]
    s = TwinStore.from_url(redis_url)
    s.load_plant(plant)
    adapter, task, astore = await start_adapter(plant, l1_server.url, redis_url)
    try:
        await adapter.wait_connected(15)
        msgs = sorted(str(p) for p in adapter.status.problems if p.fatal)
        assert len(msgs) == 5, msgs
        assert [p for p in adapter.status.problems if not p.fatal] == []
        assert any(
            m.startswith("L1-WELD.secs") and "unit 'kW' (power, server) does not convert to 's' (time)" in m
            for m in msgs
        )
        ghost = "L1-WELD.ghost -> nsu=urn:sdf-twin:sim;s=L1-WELD.ghost"
        assert any(m.startswith(ghost) and "unknown node" in m for m in msgs)
        assert any(
            m.startswith("L1-WELD.wrong") and "type mismatch: node is Double, tag expects bool" in m
            for m in msgs
        )
        assert any(m.startswith("L1-WELD.badns") and "urn:nowhere" in m for m in msgs)
        assert any(m.startswith("L1-WELD.folder") and "not a Variable" in m for m in msgs)
        await l1_server.write("L1-WELD", "power_kw", 9.0)
        await wait_until("via_path 9.0", lambda: s.read_tags("L1-WELD").get("via_path", (None,))[0] == 9.0)
        await wait_until(
            "watts 9000.0 (kW -> W)", lambda: s.read_tags("L1-WELD").get("watts", (None,))[0] == 9000.0
        )
        assert s.read_tags("L1-WELD")["power_kw"][0] == 9.0
        assert "ghost" not in s.read_tags("L1-WELD")
        assert "secs" not in s.read_tags("L1-WELD")  # a unit that does not convert is never stored
    finally:
        await stop_adapter(adapter, task, astore)
        s.client.close()


async def test_overload_coalesces_and_counts(
    store: TwinStore, mini_plant: Plant, l1_server: TagServer
) -> None:
    """A slow store: changes pile up per tag (bounded), the overwritten ones are counted, latest wins."""
    adapter, task, astore = await start_adapter(mini_plant, l1_server.url, url_of(store))
    try:
        await adapter.wait_connected(15)
        real = astore.write_changes
        gate = asyncio.Event()

        async def slow(changes, source=""):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await real(changes, source)

        astore.write_changes = slow  # type: ignore[method-assign]
        c = adapter.sink.counters

        def received_after(n: int) -> Callable[[], bool]:
            return lambda: c.notifications > n

        for i in range(1, 31):  # 0 is the served value already (no change)
            seen = c.notifications
            await l1_server.write("L1-WELD", "part_count", i)
            # one publish cycle per value: the next write waits until this one has been received
            await wait_until(f"part count {i} received", received_after(seen))

        def pending_count() -> object:
            return next(
                (p[2] for p in adapter.sink._pending.values() if p[:2] == ("L1-WELD", "part_count")), None
            )

        await wait_until("part count 30 pending behind the slow store", lambda: pending_count() == 30)
        assert len(adapter.sink._pending) <= adapter.sink.tag_count
        gate.set()
        await wait_until("part count 30", lambda: live(store, "L1-WELD")["part_count"][0] == 30)
        assert c.coalesced > 0
        assert c.notifications >= c.changes_written
    finally:
        await stop_adapter(adapter, task, astore)


async def test_stream_entries_are_json(store: TwinStore, mini_plant: Plant) -> None:
    """What the adapters' store writes to the change stream is plain JSON that any Redis client reads."""
    lines = {e.id: e.line for e in mini_plant.equipment()}
    astore = AsyncTwinStore.from_url(url_of(store), mini_plant.id, lines)
    try:
        await astore.write_changes(
            [
                ("L1-WELD", "power_kw", 42.5, "good", 1000.0),
                ("L1-WELD", "power_kw", math.nan, "good", 1001.0),
            ],
            "test",
        )
    finally:
        await astore.close()
    raw = redis.Redis.from_url(url_of(store), decode_responses=True)
    ((_id, fields),) = cast(list[tuple[str, dict[str, str]]], raw.xrange(store.keys.changes))
    raw.close()
    assert fields["src"] == "test"
    assert json.loads(fields["d"]) == [
        ["L1-WELD", "power_kw", 42.5, "good", 1000.0],
        ["L1-WELD", "power_kw", None, "bad", 1001.0],  # a non-finite value: null, quality bad
    ]
