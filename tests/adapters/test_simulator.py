"""Simulated PLCs: real asyncua servers on 127.0.0.1 free ports, read by a real asyncua client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua

from adapters.simulator import SimulatedPlant, parse_sequence
from tests.support.wait import wait_until_async
from twin.binding import default_node_id
from twin.config import parse_plant
from twin.model import SIM_NAMESPACE_URI, STATE_CODES, Plant, StationState
from twin.sim import SimOptions

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

PLANT_YAML = """
id: simtest
default_changeover_s: 60
lines:
  - id: M
    kind: mixed
    equipment:
      - {id: M-1, operations: [a], power_kw: 10, idle_power_kw: 2}
      - {id: M-B, type: buffer, capacity: 3}
      - {id: M-2, operations: [b], power_kw: 20, idle_power_kw: 3}
  - id: C
    kind: cells
    equipment:
      - {id: C-1, type: cell, operations: [a, b], power_kw: 30, idle_power_kw: 3}
      - {id: C-AGV, type: agv}
models:
  - id: A
    routing: [{operation: a, cycle_s: 30}, {operation: b, cycle_s: 40}]
  - id: B
    routing: [{operation: a, cycle_s: 35}, {operation: b, cycle_s: 45}]
demand: {A: 50}
"""
OFF = STATE_CODES[StationState.OFF]


@pytest.fixture(scope="module")
def plant() -> Plant:
    return parse_plant(PLANT_YAML)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim(plant: Plant) -> AsyncIterator[SimulatedPlant]:
    # 300x: a 30 s cycle takes 0.1 s of wall time.
    async with SimulatedPlant(
        plant, speed=300, use_config_endpoints=False, options=SimOptions(repeat_sequence=True, faults=False)
    ) as s:
        yield s


@pytest_asyncio.fixture(loop_scope="module")
async def client_m(sim: SimulatedPlant) -> AsyncIterator[Client]:
    client = Client(sim.endpoints["M"], timeout=10)
    async with client:
        yield client


async def node(client: Client, eq: str, tag: str) -> Any:
    ns = await client.get_namespace_index(SIM_NAMESPACE_URI)
    return client.get_node(f"ns={ns};s={eq}.{tag}")


async def read(client: Client, eq: str, tag: str) -> Any:
    return await (await node(client, eq, tag)).read_value()


async def call_load(client: Client, line: str, version: int, seq: Any) -> str:
    ns = await client.get_namespace_index(SIM_NAMESPACE_URI)
    plan = client.get_node(f"ns={ns};s={line}.plan")
    text = seq if isinstance(seq, str) else json.dumps(seq)
    return str(
        await plan.call_method(
            f"{ns}:Load", ua.Variant(version, ua.VariantType.Int64), ua.Variant(text, ua.VariantType.String)
        )
    )


async def test_endpoints_are_separate_servers(sim: SimulatedPlant) -> None:
    assert set(sim.endpoints) == {"M", "C"}
    assert len(set(sim.endpoints.values())) == 2
    async with Client(sim.endpoints["C"], timeout=10) as c:
        assert await read(c, "C-1", "state") in STATE_CODES.values()


async def test_browse_layout_types_and_units(client_m: Client, plant: Plant) -> None:
    ns = await client_m.get_namespace_index(SIM_NAMESPACE_URI)
    objects = client_m.nodes.objects
    line = await objects.get_child([f"{ns}:M"])
    children = {(await c.read_browse_name()).Name: c for c in await line.get_children()}
    assert {"M-1", "M-B", "M-2", "plan"} <= set(children)
    tags = {(await c.read_browse_name()).Name: c for c in await children["M-1"].get_children()}
    assert set(tags) == {t.name for t in plant.equipment_by_id()["M-1"].tags()}
    # NodeIds are the twin's default ones (by namespace URI).
    for t in plant.equipment_by_id()["M-1"].tags():
        want = default_node_id("M-1", t.name).split(";", 1)[1]
        assert tags[t.name].nodeid.to_string() == f"ns={ns};{want}"
    assert await tags["model"].read_data_type_as_variant_type() == ua.VariantType.String
    assert await tags["part_count"].read_data_type_as_variant_type() == ua.VariantType.Int64
    assert await tags["power_kw"].read_data_type_as_variant_type() == ua.VariantType.Double
    # state: Int32 values of an enumeration DataType whose fields are the StationState names.
    dtype = client_m.get_node(await tags["state"].read_data_type())
    definition = await dtype.read_data_type_definition()
    assert [f.Name for f in definition.Fields] == [s.value for s in StationState]
    assert isinstance(await tags["state"].read_value(), int)
    eu = await (await tags["power_kw"].get_child(["0:EngineeringUnits"])).read_value()
    assert eu.DisplayName.Text == "kW"
    buffer_tags = {(await c.read_browse_name()).Name for c in await children["M-B"].get_children()}
    assert buffer_tags == {"level", "state"}


async def test_values_change_over_time(client_m: Client) -> None:
    first = await read(client_m, "M-1", "part_count")

    async def advanced() -> bool:
        return bool(await read(client_m, "M-1", "part_count") >= first + 3)

    await wait_until_async("M-1 to count 3 more parts", advanced, 20.0, 0.1)
    assert await read(client_m, "M-1", "energy_kwh") > 0
    assert await read(client_m, "M-1", "model") == "A"
    dv = await (await node(client_m, "M-1", "part_count")).read_data_value()
    assert dv.SourceTimestamp is not None


async def test_plan_load_switches_model_then_line_off(sim: SimulatedPlant, client_m: Client) -> None:
    seq = [{"resource": "M", "model": "B", "quantity": 500, "start_s": 0, "end_s": 40000}]
    assert await call_load(client_m, "M", 1, seq) == "accepted"
    assert await read(client_m, "M.plan", "version") == 1
    assert json.loads(await read(client_m, "M.plan", "sequence")) == seq

    async def on_b() -> bool:
        return bool(await read(client_m, "M-2", "model") == "B")

    await wait_until_async("M-2 on model B", on_b, 20.0, 0.1)
    # Idempotent retry is accepted; an older version or another line's resource is not.
    assert await call_load(client_m, "M", 1, seq) == "accepted"
    assert (await call_load(client_m, "M", 0, seq)).startswith("rejected: version 0")
    bad = await call_load(client_m, "M", 2, [{"resource": "C-1", "model": "B", "quantity": 1}])
    assert bad.startswith("rejected:") and "not on line 'M'" in bad
    assert (await call_load(client_m, "M", 2, "{not json")).startswith("rejected: sequence is not JSON")
    unknown = await call_load(client_m, "M", 2, [{"resource": "M", "model": "Z", "quantity": 1}])
    assert unknown.startswith("rejected:") and "unknown model" in unknown
    assert await read(client_m, "M.plan", "version") == 1
    # An empty sequence switches the line off once the cars inside are finished.
    assert await call_load(client_m, "M", 3, []) == "accepted"

    async def all_off() -> bool:
        return all([await read(client_m, e, "state") == OFF for e in ("M-1", "M-2", "M-B")])

    await wait_until_async("M-1, M-2 and M-B off", all_off, 20.0, 0.1)
    assert await read(client_m, "M-1", "power_kw") == 0.0
    assert [v for v, _s, status in sim.servers["M"].loads if status == "accepted"] == [1, 1, 3]


async def test_adapter_mapping_resolves_without_problems(sim: SimulatedPlant) -> None:
    """B2's tag mapping (default NodeIds by namespace URI, types, units) finds every simulator tag."""
    from adapters.opcua.mapping import build_bindings
    from adapters.opcua.resolve import resolve

    bindings, unmapped = build_bindings(sim.plant_with_endpoints())
    assert not unmapped
    assert set(bindings) == set(sim.endpoints.values())
    for endpoint, tags in bindings.items():
        async with Client(endpoint, timeout=10) as c:
            res = await resolve(c, tags)
        assert res.problems == []
        assert len(res.tags) == len(tags)


async def test_cell_plan(sim: SimulatedPlant) -> None:
    async with Client(sim.endpoints["C"], timeout=10) as c:
        seq = [{"resource": "C-1", "model": "B", "quantity": 100, "start_s": 0, "end_s": 9000}]
        assert await call_load(c, "C", 5, seq) == "accepted"

        async def on_b() -> bool:
            return bool(await read(c, "C-1", "model") == "B")

        await wait_until_async("C-1 on model B", on_b, 20.0, 0.1)


async def test_parse_sequence_messages() -> None:
    with pytest.raises(ValueError, match="must be a JSON list"):
        parse_sequence('{"a": 1}')
    with pytest.raises(ValueError, match=r"sequence\[0\] lacks model"):
        parse_sequence('[{"resource": "M", "quantity": 1}]')
    with pytest.raises(ValueError, match="quantity must be an integer"):
        parse_sequence('[{"resource": "M", "model": "A", "quantity": -1}]')
    assert parse_sequence('[{"resource": "M", "model": "A", "quantity": 2}]')[0]["start_s"] == 0.0


async def test_busy_port_is_one_clear_error(plant: Plant) -> None:
    import socket

    from adapters.simulator import SimulatorError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(SimulatorError, match=f"port {port} for line M .* is in use"):
            await SimulatedPlant(plant, ports={"M": port}, use_config_endpoints=False).start()


async def test_live_plant_follows_the_shift_calendar(plant: Plant) -> None:
    """With the calendar on, PLC values say Off (zero power) before the shift and work once it starts."""
    night = plant.model_copy(deep=True)
    night.calendar = parse_plant(
        PLANT_YAML + 'calendar: {shifts: [{name: d, start: "06:00", end: "14:00"}]}'
    ).calendar
    # t=0 is 05:50 UTC: ten simulated minutes to the shift, ten seconds of wall time at 60x
    origin = 86400 * 30 + 5 * 3600 + 50 * 60
    opts = SimOptions(repeat_sequence=True, faults=False, calendar=True, calendar_origin=origin)
    async with (
        SimulatedPlant(night, speed=60, use_config_endpoints=False, options=opts) as s,
        Client(s.endpoints["M"], timeout=10) as c,
    ):
        assert await read(c, "M-1", "state") == OFF
        assert await read(c, "M-1", "power_kw") == 0.0

        async def working() -> bool:
            return bool(await read(c, "M-1", "state") != OFF)

        await wait_until_async("M-1 working", working, 60.0, 0.1)
        assert await read(c, "M-1", "power_kw") > 0.0
