"""``twin bench browse``: browse and draft a 10,000-variable node-opcua server, against a naive browse.

The server is the interop PLC (``tests/interop/node/server.js``, node-opcua: a stack we did not write) with
``bulk`` Double variables in objects of 100 under ``Objects/Bulk``. Measured in one run, over one session
each (the connect is not counted):

- ``browse_s``: :func:`adapters.opcua.browse.browse` from Objects with values, what ``twin opcua browse``
  does: one batched Browse per level, then DataType / ValueRank / Value and EngineeringUnits in batches;
- ``draft_s``: what ``twin opcua draft`` does: the browse without values, :func:`draft_plant`, and the
  check that the draft loads (:func:`twin.config.parse_plant`); ``draft_only_s`` is the last two alone;
- ``baseline_s``: the naive client of the same address space: a recursive walk with asyncua's
  ``get_children_descriptions`` (one Browse call per node) and one Read of DataType, ValueRank and Value
  per variable, sequentially.

Medians of ``repeats`` runs for browse and draft; the baseline runs once (it is the slow one). With each
wall time the client's CPU time (``*_client_cpu_s``): on a loaded machine most of the wall time is the
server's share of the cores, and the client's CPU is what the batching saves regardless.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

from asyncua import Client, ua

from adapters.opcua.browse import browse
from adapters.opcua.check import connected
from adapters.opcua.draft import draft_plant
from benchmarks.nodeopcua import node_opcua_server
from twin.config import parse_plant

__all__ = ["naive_browse", "run_browse_bench"]

_HAS_PROPERTY = ua.NodeId(ua.ObjectIds.HasProperty)
_ATTRS = [ua.AttributeIds.DataType, ua.AttributeIds.ValueRank, ua.AttributeIds.Value]


async def naive_browse(client: Client) -> int:
    """Objects and Variables under Objects (namespace 0 left out, as ``browse`` does), one Browse per node
    and one Read per variable; returns how many nodes it found."""
    seen: set[ua.NodeId] = set()
    stack = [client.nodes.objects]
    found = 0
    while stack:
        node = stack.pop()
        refs = await node.get_children_descriptions(nodeclassmask=ua.NodeClass.Object | ua.NodeClass.Variable)
        for ref in refs:
            nid = ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex)
            if ref.ReferenceTypeId == _HAS_PROPERTY or nid.NamespaceIndex == 0 or nid in seen:
                continue
            seen.add(nid)
            found += 1
            child = client.get_node(nid)
            if ref.NodeClass == ua.NodeClass.Variable:
                await child.read_attributes(_ATTRS)
            stack.append(child)
    return found


async def _timed(url: str, fn: Callable[[Client], Coroutine[Any, Any, Any]]) -> tuple[float, float, Any]:
    """``fn(client)`` on a fresh session: its wall time and this process's CPU time (the connect excluded),
    and its result. The CPU time is the client's own cost; the rest of the wall time is the server's."""
    async with connected(url, timeout=30) as client:
        t0, c0 = time.perf_counter(), time.process_time()
        out = await fn(client)
        return time.perf_counter() - t0, time.process_time() - c0, out


async def _draft(client: Client, url: str) -> tuple[float, int, int]:
    """Browse without values, draft, check the draft loads: (time of draft + check, stations, tags)."""
    nodes = await browse(client, values=False)
    t0 = time.perf_counter()
    plant = parse_plant(draft_plant(nodes, url, "Bulk"), source="draft.yaml")
    tags = sum(len(e.extra_tags) + len(e.opcua) for e in plant.equipment())
    return time.perf_counter() - t0, len(plant.equipment()), tags


async def _measure(url: str, repeats: int) -> dict[str, Any]:
    browse_s, browse_cpu, draft_s, draft_only_s = [], [], [], []
    nodes = stations = tags = 0
    for _ in range(repeats):
        wall, cpu, found = await _timed(url, lambda c: browse(c))
        browse_s.append(wall)
        browse_cpu.append(cpu)
        nodes = len(found)
        wall, _cpu, (only, stations, tags) = await _timed(url, lambda c: _draft(c, url))
        draft_s.append(wall)
        draft_only_s.append(only)
    baseline_s, baseline_cpu, baseline_nodes = await _timed(url, naive_browse)
    med = statistics.median
    return {
        "nodes": nodes,
        "browse_s": round(med(browse_s), 3),
        "draft_s": round(med(draft_s), 3),
        "baseline_s": round(baseline_s, 3),
        "speedup_vs_baseline": round(baseline_s / med(browse_s), 1),
        "browse_client_cpu_s": round(med(browse_cpu), 3),
        "baseline_client_cpu_s": round(baseline_cpu, 3),
        "draft_only_s": round(med(draft_only_s), 3),
        "baseline_nodes": baseline_nodes,
        "stations": stations,
        "tags": tags,
        "browse_runs_s": [round(x, 3) for x in browse_s],
        "draft_runs_s": [round(x, 3) for x in draft_s],
    }


def run_browse_bench(
    quick: bool = False, bulk: int | None = None, repeats: int | None = None
) -> dict[str, Any]:
    """Start the node-opcua server with ``bulk`` variables (10,000; quick: 2,000) and measure."""
    bulk = bulk if bulk is not None else (2_000 if quick else 10_000)
    repeats = repeats if repeats is not None else (1 if quick else 3)
    load_before = os.getloadavg()[0]
    with node_opcua_server(bulk=bulk) as url:
        res = asyncio.run(_measure(url, repeats))
    return {
        **res,
        "bulk_variables": bulk,
        "repeats": repeats,
        "quick": quick,
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
