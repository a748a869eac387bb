"""Mapping problems visible while running: an adapter mirroring a vendor PLC (python-opcua 0.98) with one
bad binding records it in the twin, where ``twin status``, the API and ``/metrics`` show it, while the good
tags keep mirroring; the adapter's next report with the binding fixed clears it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from adapters.opcua.session import AdapterOptions
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.api.conftest import make_tokens
from tests.helpers import cli_env, free_port, run_twin
from tests.support.vendor_plc import VendorPlc, vendor_plc
from tests.support.wait import wait_until_async
from twin.api import ApiSettings, create_app, run_api_in_thread
from twin.api.auth import parse_tokens
from twin.config import parse_plant
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)

MISSING = "nsu=urn:acme:plc;s=L1.PACK.Recipe"
PLANT = """
id: acme
lines:
  - id: Line1
    kind: cells
    opcua: {{endpoint: "{url}", naming: explicit}}
    equipment:
      - id: R01
        type: cell
        operations: [weld]
        opcua:
          state:
            node: 'nsu=urn:acme:plc;s="DB_Line1"."R01"."State"'
            map: {{1: Running, 2: Idle, 3: Fault}}
          part_count: {{node: 'nsu=urn:acme:plc;s="DB_Line1"."R01"."Parts"'}}
      - id: PACK
        type: cell
        operations: [pack]
        opcua:
          state: {{node: nsu=urn:acme:plc;s=L1.PACK.State Code, preset: packml}}
          model: {{node: "{model}"}}
"""


def plant_for(url: str, model_node: str) -> Plant:
    return parse_plant(PLANT.format(url=url, model=model_node), source="acme.yaml")


@pytest.fixture
def plc() -> Iterator[VendorPlc]:
    with vendor_plc(free_port()) as p:
        yield p


def _metric(text: str, sample: str) -> float | None:
    """The value of one exact sample line (``name{labels}``) of a metrics text, or None."""
    m = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


async def test_a_bad_binding_shows_in_status_api_and_metrics_and_clears_when_fixed(
    redis_url: str, plc: VendorPlc
) -> None:
    from opcua import ua

    plant = plant_for(plc.url, MISSING)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    tokens, text = make_tokens()
    api = run_api_in_thread(create_app(store, ApiSettings(tokens=parse_tokens(text))))
    viewer = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {tokens['viewer']}"})
    opts = AdapterOptions(publish_interval_ms=50)
    adapter, task, astore = await start_adapter(plant, plc.url, redis_url, opts)
    try:
        await adapter.wait_connected(30)
        await wait_until_async("the problem recorded in the twin", lambda: len(store.mapping_problems()) == 1)
        # the good tags mirror, and keep mirroring
        plc.set("Parts", 7, ua.VariantType.Int32)
        await wait_until_async(
            "R01.part_count == 7", lambda: store.read_tags("R01").get("part_count", (None,))[0] == 7
        )
        assert store.read_tags("R01")["state"][:2] == ("Running", "good")
        assert store.read_tags("PACK")["state"][:2] == ("Idle", "good")
        assert "model" not in store.read_tags("PACK")  # nothing stored for the bad binding

        # the CLI in a thread: the adapter's event loop keeps serving its session meanwhile
        res = await asyncio.to_thread(run_twin, "status", "--json", env=cli_env(redis_url))
        assert res.returncode == 0, res.stderr
        [p] = json.loads(res.stdout)["problems"]
        assert (p["equipment"], p["tag"], p["fatal"], p["endpoint"]) == ("PACK", "model", True, plc.url)
        assert p["node"].startswith(MISSING) and p["problem"] == "unknown node (BadNodeIdUnknown)"
        res = await asyncio.to_thread(run_twin, "status", env=cli_env(redis_url))
        assert res.returncode == 0, res.stderr
        assert "1 mapping problem(s)" in res.stdout
        assert f"PACK.model -> {MISSING}" in res.stdout and "unknown node (BadNodeIdUnknown)" in res.stdout

        page = viewer.get("/api/v1/adapters/problems").json()
        assert page["total"] == 1 and page["items"][0] == p
        assert viewer.get("/api/v1/adapters/problems", params={"equipment": "R01"}).json()["total"] == 0
        assert viewer.get("/api/v1/adapters/problems", params={"line": "Nope"}).status_code == 404
        assert httpx.get(api.url + "/api/v1/adapters/problems").status_code == 401
        metrics = httpx.get(api.url + "/metrics").text
        assert _metric(metrics, 'twin_mapping_problems{equipment="PACK",tag="model"}') == 1
        assert _metric(metrics, "twin_mapping_problem_tags") == 1

        # fixed (bound to a node the PLC has): the adapter's next session reports no problem
        await stop_adapter(adapter, task, astore)
        fixed = plant_for(plc.url, "nsu=urn:acme:plc;s=L1.AGV.Status")
        adapter, task, astore = await start_adapter(fixed, plc.url, redis_url, opts)
        await adapter.wait_connected(30)
        await wait_until_async("the problem cleared", lambda: store.mapping_problems() == [])
        await wait_until_async(
            "PACK.model mirrors", lambda: store.read_tags("PACK").get("model", (None,))[0] == "Idle"
        )
        await wait_until_async(
            "no problem in /metrics",
            lambda: _metric(httpx.get(api.url + "/metrics").text, "twin_mapping_problem_tags") == 0,
        )
        assert viewer.get("/api/v1/adapters/problems").json()["items"] == []
    finally:
        await stop_adapter(adapter, task, astore)
        viewer.close()
        api.stop()
        store.client.close()
