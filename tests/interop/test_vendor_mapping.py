"""Mirror a vendor-shaped PLC (python-opcua 0.98) through a plant file that binds and transforms its tags.

Vendor state codes, S7 quoted string ids in a namespace whose index is not 2, PackML with a changeover
mode, a state from Boolean bits, power in W and energy in Wh with EUInformation, arrays reduced, a
LocalizedText status, GUID and opaque ids, a per-line template; and the bad-input cases named by tag.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.opcua.session import AdapterOptions
from tests.adapters.helpers import start_adapter, stop_adapter
from tests.helpers import free_port
from tests.support.vendor_plc import GUID, OPAQUE, VendorPlc, vendor_plc
from tests.support.wait import wait_until_async
from twin.config import parse_plant
from twin.model import Plant
from twin.store import TwinStore

pytestmark = pytest.mark.timeout(120)

PLANT = """
id: acme
lines:
  - id: Line1
    kind: cells
    opcua:
      endpoint: "{url}"
      naming: explicit             # tags bound nowhere are simply absent
      template:                    # every S7 cell of the line: DB_<line>.<equipment>.<tag>
        state:
          node: 'nsu=urn:acme:plc;s="DB_{{line}}"."{{equipment}}"."State"'
          map: {{1: Running, 2: Idle, 3: Fault}}
        part_count: {{node: 'nsu=urn:acme:plc;s="DB_{{line}}"."{{equipment}}"."Parts"'}}
        power_kw: {{node: 'nsu=urn:acme:plc;s="DB_{{line}}"."{{equipment}}"."Power"', deadband: 5}}
        energy_kwh: {{node: 'nsu=urn:acme:plc;s="DB_{{line}}"."{{equipment}}"."Energy"'}}
    equipment:
      - id: R01
        type: cell
        operations: [weld]
        extra_tags:
          - {{name: temp_max, unit: "°C", node: 'nsu=urn:acme:plc;s="DB_Line1"."R01"."Temps"', array: max}}
          - {{name: temps, node: 'nsu=urn:acme:plc;s="DB_Line1"."R01"."Temps"'}}
      - id: PACK
        type: cell
        operations: [pack]
        opcua:
          state:
            node: nsu=urn:acme:plc;s=L1.PACK.State Code
            preset: packml
            when: [{{node: nsu=urn:acme:plc;s=L1.PACK.UnitMode, equals: 5, value: Changeover}}]
          part_count: {{node: 'nsu=urn:acme:plc;s="DB_Line1"."R01"."Temps"'}}      # an array: refused
          power_kw: {{node: 'nsu=urn:acme:plc;s="DB_Line1"."R01"."Energy"'}}        # Wh: no power
          energy_kwh: {{node: nsu=urn:acme:plc;s=L1/PRESS/Fault}}                   # a Boolean
          model: {{node: nsu=urn:acme:plc;s=L1.PACK.Recipe}}                        # no such node
      - id: PRESS
        type: cell
        operations: [press]
        opcua:
          state:
            when:                                   # first match wins
              - {{node: nsu=urn:acme:plc;s=L1/PRESS/Fault, value: Fault}}
              - {{node: nsu=urn:acme:plc;s=L1/PRESS/Running, value: Running}}
            default: Idle
          part_count: {{node: nsu=urn:acme:plc;s=L1/PRESS/CountRaw, scale: {{factor: 0.1}}}}
          power_kw: null                            # the template's, but this press has no meter
          energy_kwh: null
        extra_tags:
          - {{name: load, node: "nsu=urn:acme:plc;g={guid}", sampling_ms: 50, queue_size: 2}}
          - {{name: temperature, unit: "°C", node: "nsu=urn:acme:plc;b={opaque}"}}
      - id: AGV
        type: agv
        opcua:
          state: {{browse_path: ["urn:acme:plc:Plant", "Line1", "AGV", "Status"]}}
"""


def acme_plant(url: str) -> Plant:
    text = PLANT.format(url=url, guid=GUID, opaque=base64.b64encode(OPAQUE).decode())
    return parse_plant(text, source="acme.yaml")


@pytest.fixture
def plc() -> Iterator[VendorPlc]:
    with vendor_plc(free_port()) as p:
        yield p


async def test_vendor_plc_tags_bound_and_transformed(redis_url: str, plc: VendorPlc) -> None:
    from opcua import ua

    assert plc.ns == 4  # not 2: the plant file names the namespace by URI
    plant = acme_plant(plc.url)
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    adapter, task, astore = await start_adapter(
        plant, plc.url, redis_url, AdapterOptions(publish_interval_ms=50)
    )

    def tags(eq: str) -> dict[str, tuple[Any, str]]:
        return {k: (v, q) for k, (v, q, _ts) in store.read_tags(eq).items()}

    try:
        await adapter.wait_connected(30)
        problems = sorted(str(p) for p in adapter.status.problems)
        assert len(problems) == 4, problems
        assert problems[0].startswith("PACK.energy_kwh -> nsu=urn:acme:plc;s=L1/PRESS/Fault")
        assert "type mismatch: node is Boolean, tag expects float" in problems[0]
        assert problems[1].startswith("PACK.model -> nsu=urn:acme:plc;s=L1.PACK.Recipe")
        assert "unknown node (BadNodeIdUnknown)" in problems[1]
        assert problems[2].startswith('PACK.part_count -> nsu=urn:acme:plc;s="DB_Line1"."R01"."Temps"')
        assert "is an array (ValueRank 1) but 'part_count' is a scalar" in problems[2]
        assert problems[3].startswith("PACK.power_kw")
        assert "unit 'Wh' (energy, server) does not convert to 'kW' (power)" in problems[3]

        # vendor codes through the template's map; W -> kW, Wh -> kWh from EUInformation; array reduced
        plc.set("State", 3, ua.VariantType.Int32)
        plc.set("Parts", 41, ua.VariantType.Int32)
        plc.set("Power", 1500.0, ua.VariantType.Double)
        plc.set("Energy", 2500.0, ua.VariantType.Double)
        plc.set("Temps", [20.0, 27.5, 22.0, 23.0], ua.VariantType.Double)
        await wait_until_async(
            "tags('R01').get('temp_max') == (27.5, 'good')",
            lambda: tags("R01").get("temp_max") == (27.5, "good"),
        )
        await wait_until_async(
            "tags('R01').get('state') == ('Fault', 'good')",
            lambda: tags("R01").get("state") == ("Fault", "good"),
        )
        r01 = tags("R01")
        assert r01["power_kw"] == (1.5, "good") and r01["energy_kwh"] == (2.5, "good")
        assert r01["part_count"] == (41, "good")
        assert r01["temps"] == ([20.0, 27.5, 22.0, 23.0], "good")
        assert set(r01) == {"state", "part_count", "power_kw", "energy_kwh", "temp_max", "temps"}
        plc.set("State", 7, ua.VariantType.Int32)  # a code the map does not know: uncertain, raw kept
        await wait_until_async(
            "tags('R01')['state'] == (7, 'uncertain')", lambda: tags("R01")["state"] == (7, "uncertain")
        )

        # PackML: Idle (4) at start; Execute (6) -> Running; a changeover mode overrides; Undefined (0)
        await wait_until_async(
            "tags('PACK').get('state') == ('Idle', 'good')",
            lambda: tags("PACK").get("state") == ("Idle", "good"),
        )
        plc.set("PackState", 6, ua.VariantType.Int32)
        await wait_until_async(
            "tags('PACK')['state'] == ('Running', 'good')",
            lambda: tags("PACK")["state"] == ("Running", "good"),
        )
        plc.set("UnitMode", 5, ua.VariantType.Int32)
        await wait_until_async(
            "tags('PACK')['state'] == ('Changeover', 'good')",
            lambda: tags("PACK")["state"] == ("Changeover", "good"),
        )
        plc.set("UnitMode", 1, ua.VariantType.Int32)
        plc.set("PackState", 0, ua.VariantType.Int32)
        await wait_until_async(
            "tags('PACK')['state'] == (0, 'uncertain')", lambda: tags("PACK")["state"] == (0, "uncertain")
        )
        assert set(tags("PACK")) == {"state"}  # the refused bindings stored nothing, good or bad

        # a state from Boolean bits, first match wins; a raw counter scaled
        await wait_until_async(
            "tags('PRESS').get('state') == ('Idle', 'good')",
            lambda: tags("PRESS").get("state") == ("Idle", "good"),
        )
        plc.set("Running", True, ua.VariantType.Boolean)
        await wait_until_async(
            "tags('PRESS')['state'] == ('Running', 'good')",
            lambda: tags("PRESS")["state"] == ("Running", "good"),
        )
        plc.set("Fault", True, ua.VariantType.Boolean)
        await wait_until_async(
            "tags('PRESS')['state'] == ('Fault', 'good')", lambda: tags("PRESS")["state"] == ("Fault", "good")
        )
        plc.set("CountRaw", 120, ua.VariantType.Int32)
        await wait_until_async(
            "tags('PRESS').get('part_count') == (12, 'good')",
            lambda: tags("PRESS").get("part_count") == (12, "good"),
        )
        assert tags("PRESS")["load"] == (0.5, "good")
        assert tags("PRESS")["temperature"] == (21.5, "good")

        # a LocalizedText status by name (browse path); a name that is no station state is uncertain
        await wait_until_async(
            "tags('AGV').get('state') == ('Idle', 'good')",
            lambda: tags("AGV").get("state") == ("Idle", "good"),
        )
        plc.set("AgvStatus", ua.LocalizedText("Dancing"), ua.VariantType.LocalizedText)
        await wait_until_async(
            "tags('AGV')['state'] == ('Dancing', 'uncertain')",
            lambda: tags("AGV")["state"] == ("Dancing", "uncertain"),
        )
        assert adapter.sink.counters.uncertain_values >= 3
    finally:
        await stop_adapter(adapter, task, astore)
        store.client.close()


async def test_small_operation_limits_are_read_and_batches_kept_within(redis_url: str) -> None:
    """A server that advertises 2 nodes per call: the limits are read and every tag still mirrors."""
    from adapters.opcua.check import connected
    from adapters.opcua.limits import OperationLimits, read_limits

    with vendor_plc(free_port(), max_nodes=2) as small:
        async with connected(small.url) as client:
            assert await read_limits(client) == OperationLimits(
                read=2, translate=2, browse=2, monitored_items=2
            )
        plant = acme_plant(small.url)
        store = TwinStore.from_url(redis_url)
        store.load_plant(plant)
        adapter, task, astore = await start_adapter(
            plant, small.url, redis_url, AdapterOptions(publish_interval_ms=50)
        )
        try:
            await adapter.wait_connected(30)
            assert len(adapter.status.problems) == 4  # the same four bad bindings, nothing refused
            await wait_until_async(
                "store.read_tags('AGV').get('state', (None,))[0] == 'Idle'",
                lambda: store.read_tags("AGV").get("state", (None,))[0] == "Idle",
            )
            assert {k for k in store.read_tags("R01")} == {
                "state",
                "part_count",
                "power_kw",
                "energy_kwh",
                "temp_max",
                "temps",
            }
        finally:
            await stop_adapter(adapter, task, astore)
            store.client.close()


RULES_BY_PATH = """
id: acme
lines:
  - id: Line1
    kind: cells
    opcua:
      endpoint: "URL"
      naming: explicit
      template:                    # a state from bits, the fault bit found by browse path per equipment
        state:
          when:
            - {browse_path: ["urn:acme:plc:Plant", "Line1", "{equipment}", "Fault"], value: Fault}
            - {node: nsu=urn:acme:plc;s=L1/PRESS/Running, value: Running}
          default: Idle
    equipment:
      - {id: PRESS, type: cell, operations: [press]}
      - id: R01
        type: cell
        operations: [weld]
        opcua:
          state:
            when: [{browse_path: ["urn:acme:plc:Plant", "Line1", "R01", "Alarm"], value: Fault}]
            default: Idle
"""


async def test_when_rules_test_nodes_found_by_browse_path(redis_url: str, plc: VendorPlc) -> None:
    from opcua import ua

    plant = parse_plant(RULES_BY_PATH.replace("URL", plc.url), source="rules.yaml")
    store = TwinStore.from_url(redis_url)
    store.load_plant(plant)
    adapter, task, astore = await start_adapter(
        plant, plc.url, redis_url, AdapterOptions(publish_interval_ms=50)
    )

    def state(eq: str) -> tuple[Any, str] | None:
        t = store.read_tags(eq).get("state")
        return (t[0], t[1]) if t else None

    try:
        await adapter.wait_connected(30)
        [p] = adapter.status.problems  # a rule's path that leads nowhere is named by its path
        assert str(p).startswith("R01.state -> urn:acme:plc:Plant/Line1/R01/Alarm: browse path not found")
        await wait_until_async("PRESS Idle", lambda: state("PRESS") == ("Idle", "good"))
        plc.set("Running", True, ua.VariantType.Boolean)
        await wait_until_async("PRESS Running", lambda: state("PRESS") == ("Running", "good"))
        plc.set("Fault", True, ua.VariantType.Boolean)  # the node the template's path found
        await wait_until_async("PRESS Fault", lambda: state("PRESS") == ("Fault", "good"))
        assert state("R01") is None  # nothing stored for the refused binding
    finally:
        await stop_adapter(adapter, task, astore)
        store.client.close()
