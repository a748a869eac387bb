"""The Redis-outage buffer against a real redis-server that is killed (SIGKILL) and restarted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters.opcua.buffer import OutageBuffer
from tests.conftest import MINI_PLANT
from twin.changes import Change
from twin.config import load_plant
from twin.embedded import EmbeddedRedis
from twin.errors import StoreUnavailableError
from twin.store import AsyncTwinStore, TwinStore

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server with AOF fsync on every write, on a fixed port and dir, so it can be restarted."""
    server = EmbeddedRedis(workdir=tmp_path / "redis", persist=True, extra_args=["--appendfsync", "always"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def astore(durable_redis: EmbeddedRedis) -> AsyncIterator[AsyncTwinStore]:
    """The mini plant loaded into the durable server; an async store on it (what the adapters write to)."""
    plant = load_plant(MINI_PLANT)
    sync = TwinStore.from_url(durable_redis.url)
    sync.load_plant(plant)
    sync.client.close()
    store = AsyncTwinStore.from_url(durable_redis.url, plant.id, {e.id: e.line for e in plant.equipment()})
    try:
        yield store
    finally:
        await store.close()


@contextmanager
def _reader(durable_redis: EmbeddedRedis) -> Iterator[TwinStore]:
    """A fresh store on the (restarted) server, as a reader after the outage has it."""
    sync = TwinStore.from_url(durable_redis.url, load_plant(MINI_PLANT).id)
    try:
        yield sync
    finally:
        sync.client.close()


def _stream_values(store: TwinStore) -> list[object]:
    """Every value of the change stream, in order."""
    return [c.value for _id, _src, cs in store.change_range() for c in cs]


def _changes(start: int, n: int) -> list[Change]:
    return [Change("L1-WELD", "part_count", i, "good", 1000.0 + i) for i in range(start, start + n)]


async def test_outage_is_buffered_in_order_and_replayed(
    durable_redis: EmbeddedRedis, astore: AsyncTwinStore
) -> None:
    buf = OutageBuffer(astore, max_changes=50)
    assert await buf.write_changes(_changes(0, 1), "t")  # written directly: an entry id
    durable_redis.kill()
    for i in range(1, 31):  # 30 one-change batches while Redis is down
        assert await buf.write_changes(_changes(i, 1), "t") == ""
    assert buf.pending == 30 and buf.counters.outages == 1
    assert not await buf.flush(timeout_s=0.5)  # still down: nothing lost, still pending
    durable_redis.start()
    assert await buf.write_changes(_changes(31, 1), "t")  # replays 1..30, then writes 31
    assert buf.pending == 0
    assert buf.counters.replayed_changes == 30 and buf.counters.replayed_batches == 30
    with _reader(durable_redis) as sync:
        assert _stream_values(sync) == list(range(32))  # every change, in order, none twice
        assert sync.read_tags("L1-WELD")["part_count"][:2] == (31, "good")  # newest value wins


async def test_full_buffer_refuses_and_flush_replays(
    durable_redis: EmbeddedRedis, astore: AsyncTwinStore
) -> None:
    buf = OutageBuffer(astore, max_changes=10)
    durable_redis.kill()
    assert await buf.write_changes(_changes(0, 6), "t") == ""
    with pytest.raises(StoreUnavailableError, match="buffer is full"):
        await buf.write_changes(_changes(6, 6), "t")  # 12 > 10: refused, caller keeps it
    assert await buf.write_changes(_changes(6, 4), "t") == ""  # exactly at the bound
    assert buf.pending == 10 and buf.counters.refused_changes == 6
    assert buf.counters.peak_pending_changes == 10
    durable_redis.start()
    assert await buf.flush(timeout_s=10)
    with _reader(durable_redis) as sync:
        assert _stream_values(sync) == list(range(10))


def test_bound_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OutageBuffer(object(), max_changes=0)  # type: ignore[arg-type]
