"""Mirror a PLC served by python-opcua 0.98 (the legacy ``opcua`` package) into the twin."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.opcua.interop import LegacyServer, legacy_server
from adapters.opcua.mapping import build_bindings
from adapters.opcua.session import AdapterOptions, EndpointAdapter
from twin.config import plant_from_data
from twin.model import Plant
from twin.store import AsyncTwinStore, TwinStore

pytestmark = pytest.mark.timeout(90)
NS = "urn:sdf-twin:legacy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def legacy_plant(url: str) -> Plant:
    """A cell served by the legacy PLC: standard 'state' by default NodeId, the rest mapped by hand."""
    return plant_from_data(
        {
            "id": "legacy",
            "lines": [
                {
                    "id": "C7",
                    "kind": "mixed",
                    "opcua": {"endpoint": url, "namespace_uri": NS},
                    "equipment": [
                        {
                            "id": "ROBOT",
                            "type": "agv",
                            "extra_tags": [
                                {"name": "speed", "type": "float", "unit": "kW", "node": f"nsu={NS};i=3001"},
                                {
                                    "name": "cycles",
                                    "type": "int",
                                    "min": 0,
                                    "browse_path": [f"{NS}:Site", "Cell7", "ROBOT", "Cycles"],
                                },
                                {"name": "joints", "type": "float", "node": f"nsu={NS};s=ROBOT.Joints"},
                                {"name": "program", "type": "string", "node": f"nsu={NS};s=ROBOT.Program"},
                            ],
                        }
                    ],
                }
            ],
        }
    )


@pytest.fixture
def plc() -> Iterator[LegacyServer]:
    with legacy_server(free_port()) as ls:
        yield ls


async def wait_for(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.1)


async def test_legacy_plc_values_arrive_in_redis(redis_url: str, plc: LegacyServer) -> None:
    from opcua import ua

    plant = legacy_plant(plc.url)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    bindings, _ = build_bindings(plant)
    astore = AsyncTwinStore.from_url(redis_url, plant.id, {"ROBOT": "C7"})
    adapter = EndpointAdapter(plc.url, bindings[plc.url], astore, AdapterOptions(publish_interval_ms=50))
    task = asyncio.create_task(adapter.run())
    try:
        await adapter.wait_connected(30)
        assert [p for p in adapter.status.problems if p.fatal] == []
        plc.set("Speed", 1234.5, ua.VariantType.Double)
        plc.set("Cycles", 17, ua.VariantType.Int64)
        plc.set("state", 4, ua.VariantType.Int32)
        plc.set("Joints", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], ua.VariantType.Double)
        plc.set("Program", "weld_door_left", ua.VariantType.String)

        def tags() -> dict[str, Any]:
            return {k: v for k, (v, _q, _ts) in store.read_tags("ROBOT").items()}

        await wait_for(lambda: tags().get("program") == "weld_door_left")
        await wait_for(lambda: tags().get("speed") == 1234.5 and tags().get("cycles") == 17)
        t = tags()
        assert t["state"] == 4  # a plain Int32 (no enumeration type on this server): the code
        assert t["joints"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        assert {q for _v, q, _ts in store.read_tags("ROBOT").values()} == {"good"}
    finally:
        await adapter.stop()
        await asyncio.wait_for(task, 15)
        await astore.close()
        store.client.close()
