"""Write-back of plans to real OPC UA servers: kill switch, audit, write credentials, sync callable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from adapters.opcua.errors import MappingError
from adapters.opcua.security import ServerSecurity
from adapters.opcua.writeback import PlanWriter, WriteCredentials, line_sequence, write_plan
from benchmarks.tagserver import ServerProcess, TagServer, plant_tags, serve
from tests.conftest import MINI_PLANT
from tests.helpers import free_port, url_of
from twin.model import Plan, PlanAssignment, Plant
from twin.store import AsyncTwinStore, TwinStore

pytestmark = pytest.mark.timeout(60)

USERS = {"reader": ("r-secret", "reader"), "planner": ("p-secret", "writer")}
WRITER = WriteCredentials(username="planner", password="p-secret")


def a_plan(version: int = 3) -> Plan:
    return Plan(
        version=version,
        assignments=[
            PlanAssignment(resource="L1", model="A", quantity=10, start_s=0, end_s=600, lot="a1"),
            PlanAssignment(resource="L1-PAINT", model="A", quantity=10, start_s=60, end_s=700, lot="a1"),
            PlanAssignment(resource="L2", model="B", quantity=5, start_s=0, end_s=300),
            PlanAssignment(resource="L1", model="A", quantity=4, start_s=700, end_s=900, lot="a2"),
        ],
    )


@pytest.fixture
async def plc(mini_plant: Plant) -> AsyncIterator[TagServer]:
    sec = ServerSecurity(users=USERS)
    async with serve(free_port(), plant_tags(mini_plant, "L1"), plan_lines=["L1"], security=sec) as ts:
        yield ts


async def plan_version(ts: TagServer) -> int:
    node = ts.server.get_node(f"ns={ts.ns};s=L1.plan.version")
    return int(await node.read_value())


def test_line_sequence_keeps_the_lines_work_once_per_lot(mini_plant: Plant) -> None:
    seq = line_sequence(mini_plant.line_by_id()["L1"], a_plan())
    assert [(s["resource"], s["model"], s["quantity"]) for s in seq] == [("L1", "A", 10), ("L1", "A", 4)]


async def test_write_accepted_when_switch_on(store: TwinStore, mini_plant: Plant, plc: TagServer) -> None:
    astore = AsyncTwinStore.from_url(url_of(store), mini_plant.id, {})
    try:
        line = mini_plant.line_by_id()["L1"]
        res = await write_plan(
            line, a_plan(3), store=astore, credentials=WRITER, actor="alice", endpoint=plc.url
        )
        assert res.ok and res.status == "accepted", res
        assert await plan_version(plc) == 3
        assert plc.plan_loads[-1][1] == 3
        assert json.loads(plc.plan_loads[-1][2])[0]["model"] == "A"
        entry = store.audit(1)[0]
        assert entry["actor"] == "alice" and entry["action"] == "plan.write" and entry["result"] == "accepted"
        assert entry["detail"]["line"] == "L1" and entry["detail"]["version"] == 3
        assert float(entry["ts"]) > 0
        # An older version is rejected by the PLC, and that is audited too.
        res2 = await write_plan(
            line, a_plan(2), store=astore, credentials=WRITER, actor="alice", endpoint=plc.url
        )
        assert not res2.ok and res2.status == "rejected" and "not newer" in res2.detail
        assert store.audit(1)[0]["result"].startswith("rejected")
    finally:
        await astore.close()


async def test_kill_switch_off_refuses_and_audits(
    store: TwinStore, mini_plant: Plant, plc: TagServer
) -> None:
    store.set_writeback_enabled(False, actor="ops")
    astore = AsyncTwinStore.from_url(url_of(store), mini_plant.id, {})
    try:
        line = mini_plant.line_by_id()["L1"]
        res = await write_plan(
            line, a_plan(5), store=astore, credentials=WRITER, actor="sched", endpoint=plc.url
        )
        assert not res.ok and res.status == "disabled" and "kill switch" in res.detail
        assert await plan_version(plc) == 0 and plc.plan_loads == []
        entry = store.audit(1)[0]
        assert entry["actor"] == "sched" and entry["result"].startswith("disabled")
        store.set_writeback_enabled(True, actor="ops")
        res = await write_plan(
            line, a_plan(5), store=astore, credentials=WRITER, actor="sched", endpoint=plc.url
        )
        assert res.ok and await plan_version(plc) == 5
    finally:
        await astore.close()


async def test_read_account_cannot_write_and_wrong_password_is_clear(
    store: TwinStore, mini_plant: Plant, plc: TagServer
) -> None:
    astore = AsyncTwinStore.from_url(url_of(store), mini_plant.id, {})
    try:
        line = mini_plant.line_by_id()["L1"]
        reader = WriteCredentials(username="reader", password="r-secret")
        res = await write_plan(line, a_plan(4), store=astore, credentials=reader, actor="x", endpoint=plc.url)
        assert not res.ok and res.status == "error" and "BadUserAccessDenied" in res.detail, res
        wrong = WriteCredentials(username="planner", password="nope")
        res = await write_plan(line, a_plan(4), store=astore, credentials=wrong, actor="x", endpoint=plc.url)
        assert not res.ok and "refused the login as user 'planner'" in res.detail, res
        assert await plan_version(plc) == 0
        assert [e["result"].split(":")[0] for e in store.audit(2)] == ["error", "error"]
    finally:
        await astore.close()


def test_sync_plan_writer_for_the_scheduler(store: TwinStore, mini_plant: Plant) -> None:
    with ServerProcess(free_port(), MINI_PLANT, line="L1") as proc:
        proc.start()
        writer = PlanWriter(mini_plant, store, None, actor="scheduler", endpoints={"L1": proc.url})
        res = writer("L1", a_plan(7))
        assert res.ok and res.status == "accepted" and res.audit_id
        assert store.audit(1)[0]["detail"]["version"] == 7


async def test_async_plan_writer_does_not_block_the_callers_loop(store: TwinStore, mini_plant: Plant) -> None:
    with ServerProcess(free_port(), MINI_PLANT, line="L1") as proc:
        proc.start()
        writer = PlanWriter(mini_plant, store, None, actor="scheduler", endpoints={"L1": proc.url})
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)  # a tick whenever the loop is free: none while it is blocked

        tick_task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        t0 = ticks
        (res,) = await writer.apush(a_plan(8))
        during = ticks - t0
        done.set()
        await tick_task
        assert res.ok and res.status == "accepted" and res.line == "L1"
        assert store.audit(1)[0]["detail"]["version"] == 8
        # The write takes a session set-up and a method call: the loop kept ticking meanwhile.
        assert during >= 2
        with pytest.raises(MappingError, match="unknown line 'NOPE'"):
            await writer.write("NOPE", a_plan(9))
