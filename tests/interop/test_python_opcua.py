"""Mirror a PLC served by python-opcua 0.98 (the legacy ``opcua`` package) into the twin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.opcua.session import AdapterOptions
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.helpers import free_port
from tests.support.python_opcua_server import LegacyServer, legacy_server
from tests.support.wait import wait_until_async
from twin.config import plant_from_data
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(90)
NS = "urn:sdf-twin:legacy"


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


async def test_legacy_plc_values_arrive_in_redis(redis_url: str, plc: LegacyServer) -> None:
    from opcua import ua

    plant = legacy_plant(plc.url)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    adapter, task, astore = await start_adapter(
        plant, plc.url, redis_url, AdapterOptions(publish_interval_ms=50)
    )
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

        await wait_until_async(
            "the program mirrored", lambda: tags().get("program") == "weld_door_left", 20.0
        )
        await wait_until_async(
            "speed and cycles mirrored",
            lambda: tags().get("speed") == 1234.5 and tags().get("cycles") == 17,
            20.0,
        )
        t = tags()
        assert t["state"] == 4  # a plain Int32 (no enumeration type on this server): the code
        assert t["joints"] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        assert {q for _v, q, _ts in store.read_tags("ROBOT").values()} == {"good"}
    finally:
        await stop_adapter(adapter, task, astore)
        store.client.close()
