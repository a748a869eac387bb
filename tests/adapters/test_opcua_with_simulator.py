"""The adapters against B1's simulated PLCs (adapters.simulator): default mapping, live states, write-back."""

from __future__ import annotations

import pytest

from adapters.opcua.runner import AdapterSet
from adapters.opcua.session import AdapterOptions
from adapters.opcua.writeback import write_plan
from adapters.simulator import SimulatedPlant
from tests.support.wait import wait_until_async
from twin.model import Plan, PlanAssignment, Plant, StationState
from twin.store import AsyncTwinStore, TwinStore

pytestmark = pytest.mark.timeout(120)


async def test_simulated_plant_mirrors_and_accepts_a_plan(
    store: TwinStore, redis_url: str, mini_plant: Plant
) -> None:
    async with SimulatedPlant(mini_plant, speed=60.0, use_config_endpoints=False) as sim:
        plant = sim.plant_with_endpoints()
        aset = AdapterSet(plant, redis_url, options=AdapterOptions(publish_interval_ms=100))
        aset.start()
        try:
            await aset.wait_connected(60)
            problems = [str(p) for a in aset.adapters for p in a.status.problems]
            assert problems == []  # every default NodeId, type, unit and the state enumeration resolve
            assert aset.tag_count == sum(len(e.tags()) for e in plant.equipment())
            names = {s.value for s in StationState}

            def states() -> list[object]:
                return [r.get("state") for r in store.status() if r["type"] in ("station", "cell")]

            await wait_until_async("a state for every station", lambda: all(s in names for s in states()))
            await wait_until_async(
                "a part counted", lambda: any(r.get("part_count", 0) > 0 for r in store.status())
            )
            assert {r["quality"] for r in store.status()} <= {"good"}

            astore = AsyncTwinStore.from_url(redis_url, plant.id, {e.id: e.line for e in plant.equipment()})
            try:
                plan = Plan(
                    version=2,
                    assignments=[
                        PlanAssignment(resource="L1", model="A", quantity=3, start_s=0, end_s=600),
                    ],
                )
                res = await write_plan(
                    plant.line_by_id()["L1"], plan, store=astore, credentials=None, actor="test"
                )
                assert res.ok and res.status == "accepted", res
                assert sim.servers["L1"].plan_version == 2
                stale = await write_plan(
                    plant.line_by_id()["L1"],
                    plan.model_copy(update={"version": 1}),
                    store=astore,
                    credentials=None,
                    actor="test",
                )
                assert stale.status == "rejected" and "not newer" in stale.detail
                assert [e["result"].split(":")[0] for e in store.audit(2)] == ["rejected", "accepted"]
            finally:
                await astore.close()
        finally:
            await aset.stop()
