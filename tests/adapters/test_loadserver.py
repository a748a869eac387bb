"""The bench's fast OPC UA load server: real clients (asyncua, our adapter) over TCP read what it serves."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime

import pytest
from asyncua import Client, ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary

from adapters.opcua.fastpath import parse_publish
from adapters.opcua.session import AdapterOptions
from benchmarks.loadencoding import LoadTag, Subscription, load_tags, publish_response, value_of
from benchmarks.loadserver import LoadServer, LoadServerProcess
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.conftest import MINI_PLANT
from tests.support.wait import wait_until_async
from twin.model import Plant
from twin.store import TwinStore

TAGS = [
    LoadTag("E1.state", "int32", enum=True),
    LoadTag("E1.speed", "double"),
    LoadTag("E1.model", "string"),
    LoadTag("E1.on", "bool"),
    LoadTag("E2.count", "int32"),
    LoadTag("E2.speed", "double"),
]


def _index(tag: LoadTag) -> int:
    return [t for t in TAGS if t.kind == tag.kind].index(tag)


def test_publish_response_decodes_with_asyncua_and_the_fast_path() -> None:
    sub = Subscription(sid=9, interval_s=0.1, keepalive=10)
    for mid, tag in enumerate(TAGS, start=1):
        sub.items[mid] = (100 + mid, tag)
    before = time.time()
    raw = publish_response(sub, handle=77, acks=2)
    resp = struct_from_binary(ua.PublishResponse, Buffer(raw))
    assert resp.ResponseHeader.RequestHandle == 77 and resp.ResponseHeader.ServiceResult.is_good()
    assert resp.Parameters.SubscriptionId == 9 and len(resp.Parameters.Results) == 2
    msg = resp.Parameters.NotificationMessage
    assert msg.SequenceNumber == 1
    (dc,) = msg.NotificationData
    by_handle = {m.ClientHandle: m.Value for m in dc.MonitoredItems}
    assert sorted(by_handle) == [101, 102, 103, 104, 105, 106]
    for mid, tag in enumerate(TAGS, start=1):
        got = by_handle[100 + mid]
        want = value_of(tag, _index(tag), 1)  # the first cycle
        assert got.Value == want, tag
        assert got.SourceTimestamp is not None and got.SourceTimestamp.timestamp() >= before - 1
    fast = parse_publish(raw)
    assert fast is not None
    rows = fast.Parameters.NotificationMessage.NotificationData[0].items
    items = {h: (v, st) for h, v, st, _src, _srv in rows}
    assert items[102] == (value_of(TAGS[1], 0, 1).Value, 0)
    assert items[103] == ("M0000001", 0)
    # The next cycle changes every value.
    raw2 = publish_response(sub, handle=78, acks=0)
    fast2 = parse_publish(raw2)
    assert fast2 is not None
    items2 = {h: v for h, v, *_ in fast2.Parameters.NotificationMessage.NotificationData[0].items}
    assert all(items2[h] != items[h][0] for h in items)


def test_keepalive_when_nothing_is_monitored() -> None:
    sub = Subscription(sid=3, interval_s=0.1, keepalive=10)
    resp = struct_from_binary(ua.PublishResponse, Buffer(publish_response(sub, handle=1, acks=0)))
    assert resp.Parameters.NotificationMessage.NotificationData == []
    assert resp.Parameters.SubscriptionId == 3


async def test_asyncua_client_reads_and_subscribes_over_tcp() -> None:
    server = LoadServer(TAGS)
    url = await server.start()
    client = Client(url, timeout=10)
    await client.connect()
    try:
        assert await client.get_namespace_array() == ["http://opcfoundation.org/UA/", "urn:sdf-twin:sim"]
        speed = client.get_node("ns=1;s=E2.speed")
        assert await speed.read_data_type() == ua.NodeId(11)
        assert await speed.read_value() == value_of(TAGS[5], 1, 0).Value
        with pytest.raises(ua.UaStatusCodeError, match="BadNodeIdUnknown"):
            await client.get_node("ns=1;s=nope").read_value()

        seen: list[tuple[str, object]] = []

        class Handler:
            def datachange_notification(self, node: object, val: object, data: object) -> None:
                seen.append((node.nodeid.Identifier, val))  # type: ignore[attr-defined]

        # An idle subscription (keepalives only, every few seconds) must not hold back the busy one.
        idle = await client.create_subscription(50, Handler())
        sub = await client.create_subscription(50, Handler())
        nodes = [client.get_node(f"ns=1;s={t.node}") for t in TAGS]
        handles = await sub.subscribe_data_change(nodes, queuesize=1)
        assert all(isinstance(h, int) for h in handles)
        with pytest.raises(ua.UaStatusCodeError, match="BadNodeIdUnknown"):
            await sub.subscribe_data_change(client.get_node("ns=1;s=nope"))
        t0 = time.monotonic()

        def five_each() -> bool:
            return all(sum(1 for n, _v in seen if n == t.node) >= 5 for t in TAGS)

        # An idle subscription holding the busy one back would release one answer per keepalive (5 s).
        await wait_until_async("five publish cycles of every tag", five_each, 10.0)
        elapsed = time.monotonic() - t0
        await sub.delete()
        await idle.delete()
    finally:
        await client.disconnect()
        await server.stop()
    per_tag = {t.node: [v for n, v in seen if n == t.node] for t in TAGS}
    cycles = [len(v) for v in per_tag.values()]
    # Every tag changes once per 50 ms publishing interval, never more often.
    assert min(cycles) >= 5 and max(cycles) <= elapsed / 0.05 + 3
    doubles = per_tag["E1.speed"]
    assert all(b != a for a, b in itertools.pairwise(doubles))
    assert {type(v) for v in per_tag["E1.model"]} == {str}
    assert set(per_tag["E1.state"]) <= set(range(7))


async def test_adapter_mirrors_a_load_server_into_redis(redis_url: str, mini_plant: Plant) -> None:
    line = mini_plant.lines[0]
    tags = load_tags(MINI_PLANT, line.id)
    assert len(tags) == sum(len(e.tags()) for e in line.equipment)
    store = TwinStore.from_url(redis_url, mini_plant.id)
    store.load_plant(mini_plant, migrate=True)
    server = LoadServer(tags)
    url = await server.start()
    opts = AdapterOptions(publish_interval_ms=50, request_timeout_s=5)
    adapter, task, astore = await start_adapter(mini_plant, url, redis_url, opts, endpoints={line.id: url})
    try:
        await adapter.wait_connected(20)
        t0 = time.time()
        await wait_until_async(
            "three cycles decoded", lambda: adapter.sink.counters.fast_decoded >= len(tags) * 3
        )
        await adapter.sink.flush()
    finally:
        await stop_adapter(adapter, task, astore)
        await server.stop()
    c = adapter.sink.counters
    assert adapter.status.problems == [] and adapter.status.tags == len(tags)
    assert c.fast_decoded >= len(tags) * 3 and c.unknown_handles == 0 and c.bad_values == 0
    for eq in line.equipment:
        live = store.read_tags(eq.id)
        assert set(live) >= {t.name for t in eq.tags()}, eq.id
        for name, (_value, quality, ts) in live.items():
            if name.startswith("_"):
                continue
            assert quality in ("good", "stale"), (eq.id, name)  # stale once the adapter stopped
            assert ts >= t0 - 5
    store.close()


def test_load_server_process_serves_a_plant() -> None:
    proc = LoadServerProcess(MINI_PLANT)
    url = proc.start(timeout=60)
    try:
        assert url.startswith("opc.tcp://127.0.0.1:") and proc.tags == len(load_tags(MINI_PLANT))

        async def namespaces() -> list[str]:
            client = Client(url, timeout=10)
            await client.connect()
            try:
                return list(await client.get_namespace_array())
            finally:
                await client.disconnect()

        assert asyncio.run(namespaces())[1] == "urn:sdf-twin:sim"
    finally:
        proc.stop()
    assert proc.proc is None


def test_timestamps_are_utc_filetimes() -> None:
    sub = Subscription(sid=1, interval_s=0.1, keepalive=10, items={1: (5, TAGS[0])})
    resp = struct_from_binary(ua.PublishResponse, Buffer(publish_response(sub, handle=1, acks=0)))
    (dc,) = resp.Parameters.NotificationMessage.NotificationData
    ts = dc.MonitoredItems[0].Value.SourceTimestamp
    assert abs((datetime.now(UTC) - ts.replace(tzinfo=UTC)).total_seconds()) < 5
