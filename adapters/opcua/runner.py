"""All endpoint adapters of a plant (or of one shard of it) in one process, sharing one Redis client.

Sharding (``twin adapt --shard I/N``) is deterministic and needs no coordination: with at least N
endpoints, whole endpoints are dealt to shards (sorted by URL, each to the shard with the fewest tags so
far); with fewer endpoints than shards, each endpoint's equipment is split by a stable hash, so every tag
is mirrored by exactly one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.opcua.errors import MappingError
from adapters.opcua.mapping import TagBinding, build_bindings
from adapters.opcua.session import AdapterOptions, EndpointAdapter
from twin.model import Plant
from twin.store import AsyncTwinStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """``"I/N"`` with 1 <= I <= N (1-based on the command line), or None for the whole plant."""
        if not text:
            return cls()
        try:
            i, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise MappingError(f"bad shard {text!r}: expected I/N, e.g. 1/2") from None
        if n < 1 or not 1 <= i <= n:
            raise MappingError(f"bad shard {text!r}: need 1 <= I <= N")
        return cls(i - 1, n)


def shard_bindings(bindings: Mapping[str, list[TagBinding]], shard: Shard) -> dict[str, list[TagBinding]]:
    """The part of ``bindings`` (url -> tags) that ``shard`` mirrors."""
    if shard.count == 1:
        return {u: list(b) for u, b in bindings.items()}
    urls = sorted(bindings)
    if len(urls) >= shard.count:
        load = [0] * shard.count
        mine: dict[str, list[TagBinding]] = {}
        for u in sorted(urls, key=lambda u: (-len(bindings[u]), u)):
            target = min(range(shard.count), key=lambda k: (load[k], k))
            load[target] += len(bindings[u])
            if target == shard.index:
                mine[u] = list(bindings[u])
        return mine
    out: dict[str, list[TagBinding]] = {}
    for u in urls:
        part = [b for b in bindings[u] if zlib.crc32(b.equipment.encode()) % shard.count == shard.index]
        if part:
            out[u] = part
    return out


class AdapterSet:
    """Runs one :class:`EndpointAdapter` per endpoint of (a shard of) a plant until stopped."""

    def __init__(
        self,
        plant: Plant,
        redis_url: str,
        *,
        shard: Shard | None = None,
        endpoints: Mapping[str, str] | None = None,
        options: AdapterOptions | None = None,
        store: Any = None,
    ) -> None:
        self.plant = plant
        bindings, unmapped = build_bindings(plant, endpoints)
        if unmapped:
            log.info("lines without an OPC UA endpoint (not mirrored): %s", ", ".join(unmapped))
        self.bindings = shard_bindings(bindings, shard or Shard())
        self.store = store or AsyncTwinStore.from_url(
            redis_url, plant.id, {e.id: e.line for e in plant.equipment()}
        )
        self._own_store = store is None
        self.adapters = [EndpointAdapter(u, b, self.store, options) for u, b in sorted(self.bindings.items())]
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def tag_count(self) -> int:
        """Tags this set is responsible for."""
        return sum(len(b) for b in self.bindings.values())

    def start(self) -> None:
        """Start every endpoint adapter (each reconnects on its own, forever)."""
        self._tasks = [asyncio.create_task(a.run(), name=f"adapter {a.url}") for a in self.adapters]

    async def wait_connected(self, timeout: float) -> None:
        """Wait until every endpoint has a session and has re-synced its values."""
        await asyncio.gather(*(a.wait_connected(timeout) for a in self.adapters))

    async def stop(self) -> None:
        """Stop all adapters: flush pending changes, close sessions."""
        for a in self.adapters:
            await a.stop()
        for t in self._tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(t, 15)
        if self._own_store:
            await self.store.close()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Start, run until ``stop`` is set, then stop cleanly."""
        self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    def counters(self) -> dict[str, Any]:
        """Summed ingest counters and per-endpoint status (for logs and metrics)."""
        total: dict[str, int] = {}
        endpoints = []
        for a in self.adapters:
            for k, v in a.sink.counters.as_dict().items():
                total[k] = total.get(k, 0) + v
            st = a.status
            endpoints.append(
                {
                    "url": a.url,
                    "connected": st.connected,
                    "tags": st.tags,
                    "connects": st.connects,
                    "problems": [str(p) for p in st.problems],
                    "last_error": st.last_error,
                }
            )
        return {"totals": total, "endpoints": endpoints}
