"""A Redis that went away is reported the same way by the sync and the async store: ``StoreUnavailableError``
naming what was being done (the async kill switch and audit used to report a plain ``StoreError``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import MINI_PLANT
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.errors import StoreUnavailableError
from twin.store import AsyncTwinStore, TwinStore

pytestmark = pytest.mark.timeout(60)


@dataclass
class Stores:
    """Both stores on one redis-server that the test stops."""

    server: EmbeddedRedis
    sync: TwinStore
    aio: AsyncTwinStore


@pytest.fixture
async def stores() -> AsyncIterator[Stores]:
    plant = load_plant(MINI_PLANT)
    server = EmbeddedRedis().start()
    sync = TwinStore.from_url(server.url)
    sync.load_plant(plant)
    aio = AsyncTwinStore.from_url(server.url, plant.id, {e.id: e.line for e in plant.equipment()})
    try:
        yield Stores(server, sync, aio)
    finally:
        await aio.close()
        sync.close()
        server.stop()


#: The same operation on each store, and what the error says was being done.
OPERATIONS: dict[str, tuple[Callable[[TwinStore], Any], Callable[[AsyncTwinStore], Awaitable[Any]], str]] = {
    "kill switch": (
        lambda s: s.writeback_enabled(),
        lambda a: a.writeback_enabled(),
        "reading the write-back switch",
    ),
    "audit": (
        lambda s: s.append_audit("ops", "writeback.write", {"tag": "plan_version"}),
        lambda a: a.append_audit("ops", "writeback.write", {"tag": "plan_version"}),
        "writing the audit log",
    ),
    "live state": (
        lambda s: s.write_changes([("L1-WELD", "state", "Running", "good", 1.0)]),
        lambda a: a.write_changes([("L1-WELD", "state", "Running", "good", 1.0)]),
        "writing live state",
    ),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_both_stores_report_a_lost_redis_as_unavailable(stores: Stores, operation: str) -> None:
    sync_op, async_op, what = OPERATIONS[operation]
    sync_op(stores.sync)  # both answer while Redis is up (and hold a pooled connection)
    await async_op(stores.aio)
    stores.server.kill()
    with pytest.raises(StoreUnavailableError, match=f"^Redis unreachable while {what}: ") as sync_err:
        sync_op(stores.sync)
    with pytest.raises(StoreUnavailableError, match=f"^Redis unreachable while {what}: ") as async_err:
        await async_op(stores.aio)
    assert type(sync_err.value) is type(async_err.value)
