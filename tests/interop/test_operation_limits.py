"""OperationLimits kept against a server that enforces them: node-opcua with 3 nodes per Read, Browse,
TranslateBrowsePaths and CreateMonitoredItems answers anything bigger with BadTooManyOperations (as a small
S7-1200 does). The same calls unbatched are refused; the adapter, batching, mirrors every tag."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua

from adapters.opcua.browse import browse
from adapters.opcua.check import connected
from adapters.opcua.ingest import create_monitored_items
from adapters.opcua.limits import OperationLimits, read_attribute, read_limits, translate
from adapters.opcua.mapping import relative_path
from adapters.opcua.session import AdapterOptions
from benchmarks.nodeopcua import node_opcua_server
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.support.wait import wait_until_async
from twin.config import plant_from_data
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(180)

BULK = "urn:acme:bulk"
LIMIT = 3
N = 24  # node ids (s=Bulk.V0..): eight times the limit
P = 6  # tags bound by browse path: twice the limit


@pytest.fixture
def small_plc(node_opcua: Path) -> Iterator[str]:
    with node_opcua_server(node_opcua, bulk=N + P, limits=LIMIT) as url:
        yield url


def bulk_plant(url: str) -> Plant:
    """Two cells: tags by NodeId (some with a unit, so EngineeringUnits are looked up too), and by path."""
    by_id = [
        {
            "name": f"v{i}",
            "type": "float",
            "node": f"nsu={BULK};s=Bulk.V{i}",
            **({"unit": "kW"} if i % 2 else {}),
        }
        for i in range(N)
    ]
    by_path = [
        {"name": f"v{i}", "type": "float", "browse_path": [f"{BULK}:Bulk", "Unit0", f"V{i}"]}
        for i in range(N, N + P)
    ]
    cell = {"type": "cell", "operations": ["x"]}
    return plant_from_data(
        {
            "id": "bulk",
            "lines": [
                {
                    "id": "B",
                    "kind": "cells",
                    "opcua": {"endpoint": url, "naming": "explicit"},
                    "equipment": [
                        {"id": "ID", **cell, "extra_tags": by_id},
                        {"id": "PATH", **cell, "extra_tags": by_path},
                    ],
                }
            ],
        }
    )


async def _refused_unbatched(client: Client) -> None:
    """Read, TranslateBrowsePaths and CreateMonitoredItems of all nodes in one call each: refused."""
    ns = await client.get_namespace_index(BULK)
    ids = [ua.NodeId(f"Bulk.V{i}", ns) for i in range(N)]
    with pytest.raises(ua.UaStatusCodeError, match="BadTooManyOperations"):
        await read_attribute(client, ids, ua.AttributeIds.Value, batch=len(ids))
    objects = ua.NodeId(ua.ObjectIds.ObjectsFolder)
    paths = [(objects, relative_path([f"{ns}:Bulk", "Unit0", f"V{i}"], [], ns)) for i in range(N)]
    with pytest.raises(ua.UaStatusCodeError, match="BadTooManyOperations"):
        await translate(client, paths, batch=len(paths))
    sub = await client.create_subscription(100, None)
    with pytest.raises(ua.UaStatusCodeError, match="BadTooManyOperations"):
        await create_monitored_items(sub, ids, 0.0, batch=len(ids))
    # within the limits, the same calls pass
    values = await read_attribute(client, ids, ua.AttributeIds.Value, batch=LIMIT)
    assert [dv.Value.Value for dv in values] == [float(i) for i in range(N)]
    found = await translate(client, paths, batch=LIMIT)
    assert all(r.StatusCode.is_good() and r.Targets for r in found)
    statuses = await create_monitored_items(sub, ids, 0.0, batch=LIMIT)
    assert all(st.is_good() for st in statuses)
    await sub.delete()


async def test_adapter_mirrors_more_tags_than_the_limits_allow_per_call(
    redis_url: str, small_plc: str
) -> None:
    async with connected(small_plc) as client:
        assert await read_limits(client) == OperationLimits(
            read=LIMIT, translate=LIMIT, browse=LIMIT, monitored_items=LIMIT
        )
        await _refused_unbatched(client)
        bulk = [n.node_id for n in await browse(client) if n.node_id.startswith(f"nsu={BULK};s=Bulk.V")]
        assert len(bulk) == N + P  # browsed 3 nodes per call

    plant = bulk_plant(small_plc)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    adapter, task, astore = await start_adapter(
        plant, small_plc, redis_url, AdapterOptions(publish_interval_ms=100)
    )

    def mirrored() -> dict[str, tuple[object, str]]:
        return {t: (v, q) for eq in ("ID", "PATH") for t, (v, q, _ts) in store.read_tags(eq).items()}

    try:
        await adapter.wait_connected(30)
        assert adapter.status.problems == [], [str(p) for p in adapter.status.problems]
        assert adapter.status.tags == N + P
        assert (adapter.status.connects, adapter.status.last_error) == (1, None)  # no call was refused
        await wait_until_async("every tag mirrored", lambda: len(mirrored()) == N + P)
        assert mirrored() == {f"v{i}": (float(i), "good") for i in range(N + P)}
    finally:
        await stop_adapter(adapter, task, astore)
        store.client.close()
