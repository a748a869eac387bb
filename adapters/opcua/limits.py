"""The server's OperationLimits, and the batched Read / TranslateBrowsePaths / Browse calls kept within them.

Small PLCs (an S7-1200 allows a few dozen nodes per call) refuse big requests with ``BadTooManyOperations``;
every multi-node service call of the adapter goes through these helpers, which split it into requests no
larger than the server's advertised limit (``0`` means "no limit": then :data:`BATCH`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua

__all__ = ["BATCH", "OperationLimits", "read_attribute", "read_limits", "translate"]

log = logging.getLogger(__name__)

#: Largest number of nodes per request when the server sets no limit (keeps each request well under the
#: client's watchdog and the server's message limits).
BATCH = 500


@dataclass(frozen=True, slots=True)
class OperationLimits:
    """Nodes per request the server accepts, per service (already capped at :data:`BATCH`)."""

    read: int = BATCH
    translate: int = BATCH
    browse: int = BATCH
    monitored_items: int = BATCH


_OL = "Server_ServerCapabilities_OperationLimits_"
_LIMIT_NODES = {
    "read": getattr(ua.ObjectIds, _OL + "MaxNodesPerRead"),
    "translate": getattr(ua.ObjectIds, _OL + "MaxNodesPerTranslateBrowsePathsToNodeIds"),
    "browse": getattr(ua.ObjectIds, _OL + "MaxNodesPerBrowse"),
    "monitored_items": getattr(ua.ObjectIds, _OL + "MaxMonitoredItemsPerCall"),
}


async def read_limits(client: Client) -> OperationLimits:
    """The server's OperationLimits; missing or zero limits are :data:`BATCH`.

    Read one node per request: a server allowing fewer than four nodes per Read must not refuse the very
    request that would tell the adapter so.
    """
    ids = [ua.NodeId(i) for i in _LIMIT_NODES.values()]
    try:
        values = await read_attribute(client, ids, ua.AttributeIds.Value, 1)
    except ua.UaStatusCodeError:  # a server without the Server object's capabilities
        return OperationLimits()
    out: dict[str, int] = {}
    for name, dv in zip(_LIMIT_NODES, values, strict=True):
        v = dv.Value.Value if dv.StatusCode.is_good() and dv.Value is not None else None
        out[name] = min(int(v), BATCH) if isinstance(v, int) and v > 0 else BATCH
    limits = OperationLimits(**out)
    if limits != OperationLimits():
        log.info("server operation limits: %s", limits)
    return limits


def chunks(seq: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    """``seq`` in slices of at most ``n``."""
    for i in range(0, len(seq), max(n, 1)):
        yield seq[i : i + max(n, 1)]


async def read_attribute(
    client: Client, ids: Sequence[ua.NodeId], attr: ua.AttributeIds, batch: int = BATCH
) -> list[ua.DataValue]:
    """One attribute of every node, in requests of at most ``batch`` nodes; results in order."""
    out: list[ua.DataValue] = []
    for chunk in chunks(ids, batch):
        params = ua.ReadParameters()
        for nid in chunk:
            rv = ua.ReadValueId()
            rv.NodeId = nid
            rv.AttributeId = attr
            params.NodesToRead.append(rv)
        out.extend(await client.uaclient.read(params))
    return out


async def translate(
    client: Client, paths: Sequence[tuple[ua.NodeId, ua.RelativePath]], batch: int = BATCH
) -> list[Any]:
    """TranslateBrowsePathsToNodeIds for every (start, path), in requests of at most ``batch``."""
    out: list[Any] = []
    for chunk in chunks(paths, batch):
        bps = []
        for start, rp in chunk:
            bp = ua.BrowsePath()
            bp.StartingNode = start
            bp.RelativePath = rp
            bps.append(bp)
        out.extend(await client.uaclient.translate_browsepaths_to_nodeids(bps))
    return out
