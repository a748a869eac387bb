"""The ingest sink's own logic (coalescing, retries, stale marks), with an in-memory writer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from asyncua import ua

from adapters.opcua.ingest import IngestSink
from adapters.opcua.mapping import ResolvedTag, TagBinding
from twin.changes import Change, ChangeLike
from twin.errors import StoreUnavailableError
from twin.model import TagDef, TagType


class FlakyWriter:
    """Fails the first ``failures`` writes like an unreachable Redis, then records batches."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.batches: list[list[Change]] = []

    async def write_changes(self, changes: Sequence[ChangeLike], source: str = "") -> str:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("Redis unreachable while writing live state")
        self.batches.append([Change(*c) for c in changes])  # the sink may hand plain 5-tuples
        return "1-0"


def tags(*names: str) -> list[ResolvedTag]:
    return [
        ResolvedTag(
            TagBinding("EQ", "L", TagDef(name=n, type=TagType.FLOAT, min=0), "opc.tcp://x", None, None, ""),
            ua.NodeId(i, 2),
        )
        for i, n in enumerate(names)
    ]


def latest(w: FlakyWriter) -> dict[str, Change]:
    return {c.tag: c for b in w.batches for c in b}


async def test_outage_keeps_latest_value_per_tag_and_counts_overwrites() -> None:
    w = FlakyWriter(failures=2)
    sink = IngestSink(w, "test", retry_s=0.01)
    sink.set_tags(tags("a", "b"))
    sink.start()
    try:
        for i in range(5):
            sink.on_fast([(0, float(i), 0, 100.0 + i, None), (1, -1.0, 0, 100.0 + i, None)])
            await asyncio.sleep(0)
        await asyncio.wait_for(sink.flush(), 5)
    finally:
        await sink.stop()
    got = latest(w)
    assert got["a"].value == 4.0 and got["a"].quality == "good" and got["a"].source_ts == 104.0
    assert got["b"].quality == "bad" and got["b"].value == -1.0  # below min: bad, not good
    c = sink.counters
    assert c.store_errors == 2
    assert c.notifications == 10
    # Every notification is accounted for: written, or overwritten by a newer value of the same tag.
    assert c.changes_written + c.coalesced == c.notifications


async def test_stale_marks_keep_values_and_survive_a_remapping() -> None:
    w = FlakyWriter()
    sink = IngestSink(w, "test")
    sink.set_tags(tags("a", "b"))
    sink.start()
    try:
        sink.on_fast([(0, 1.5, 0, 10.0, None), (1, 2.5, 0, 10.0, None)])
        await asyncio.wait_for(sink.flush(), 5)
        assert sink.mark_stale() == 2
        sink.set_tags(tags("b", "a"))  # after a reconnect the handles may differ
        await asyncio.wait_for(sink.flush(), 5)
        got = latest(w)
        assert (got["a"].value, got["a"].quality) == (1.5, "stale")
        assert (got["b"].value, got["b"].quality) == (2.5, "stale")
        sink.on_fast([(0, 7.0, 0, 11.0, None)])  # handle 0 is now tag 'b'
        await asyncio.wait_for(sink.flush(), 5)
        got = latest(w)
        assert (got["b"].value, got["b"].quality) == (7.0, "good")
        assert got["a"].quality == "stale"
    finally:
        await sink.stop()


async def test_unknown_handles_and_uncertain_status_are_counted() -> None:
    w = FlakyWriter()
    sink = IngestSink(w, "test")
    sink.set_tags(tags("a"))
    sink.start()
    try:
        sink.on_fast([(9, 1.0, 0, 1.0, None), (0, 3.0, ua.StatusCodes.UncertainLastUsableValue, None, 5.0)])
        await asyncio.wait_for(sink.flush(), 5)
    finally:
        await sink.stop()
    assert sink.counters.unknown_handles == 1 and sink.counters.uncertain_status == 1
    a = latest(w)["a"]
    assert (a.value, a.quality, a.source_ts) == (3.0, "uncertain", 5.0)  # server time when no source time
