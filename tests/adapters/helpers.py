"""Starting and stopping one real EndpointAdapter in a test (shared by tests/adapters and tests/interop)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from adapters.opcua.mapping import build_bindings
from adapters.opcua.session import AdapterOptions, EndpointAdapter
from twin.model import Plant
from twin.store import AsyncTwinStore


async def start_adapter(
    plant: Plant,
    url: str,
    redis_url: str,
    options: AdapterOptions,
    endpoints: Mapping[str, str] | None = None,
) -> tuple[EndpointAdapter, asyncio.Task[None], AsyncTwinStore]:
    """Run the adapter for ``url`` (``endpoints`` override the plant's, as ``--endpoint`` does) as a task."""
    bindings, _ = build_bindings(plant, endpoints)
    astore = AsyncTwinStore.from_url(redis_url, plant.id, {e.id: e.line for e in plant.equipment()})
    adapter = EndpointAdapter(url, bindings[url], astore, options)
    return adapter, asyncio.create_task(adapter.run()), astore


async def stop_adapter(
    adapter: EndpointAdapter, task: asyncio.Task[None], astore: AsyncTwinStore, timeout: float = 15.0
) -> None:
    """Stop the adapter, wait (bounded) for its task to end, and close its store connection."""
    await adapter.stop()
    await asyncio.wait_for(task, timeout)
    await astore.close()
