"""Browse an OPC UA server's address space: Objects and Variables under a root, level by level, in batches.

Every level is one batched Browse (continuation points followed), then the Variables' DataType,
ValueRank and Value, and their EngineeringUnits, are read in batches within the server's OperationLimits,
so a 10,000-node server takes a handful of round trips per level, not one per node. NodeIds are given in
``nsu=<namespace uri>;...`` form (what a plant file should hold); properties (``HasProperty``) are not
listed as nodes (a variable's EngineeringUnits becomes its ``unit``). The Server object (namespace 0) is
left out unless it is the root.
"""

from __future__ import annotations

import base64
import datetime
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from asyncua import Client, ua

from adapters.opcua.limits import OperationLimits, chunks, read_attribute, read_limits
from adapters.opcua.mapping import format_nodeid, parse_nodeid, type_name
from adapters.opcua.resolve import read_unit_properties, read_units

__all__ = ["BrowsedNode", "browse"]

_HAS_PROPERTY = ua.NodeId(ua.ObjectIds.HasProperty)
_EU = ua.QualifiedName("EngineeringUnits", 0)
_NUMERIC = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 26, 27, 28, 50}


@dataclass(slots=True)
class BrowsedNode:
    """One Object or Variable under the browse root."""

    node_id: str
    browse_path: list[str]
    node_class: str
    data_type: str | None = None
    value_rank: int | None = None
    unit: str | None = None
    value: Any = None
    type_definition: str | None = None
    depth: int = 0
    parent: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON row of ``twin opcua browse --json``."""
        return asdict(self)


def _json_value(v: Any) -> Any:
    """A node's value as JSON: numbers, text, Booleans, lists of them; anything else as text."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    text = getattr(v, "Text", None)
    if isinstance(text, str):
        return text
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return str(v)


def _qualified_name(qn: ua.QualifiedName, prev_ns: int | None, namespaces: list[str]) -> str:
    """A browse name as a plant file's browse path element (``uri:Name`` where the namespace changes)."""
    if qn.NamespaceIndex == prev_ns:
        return str(qn.Name)
    uri = namespaces[qn.NamespaceIndex] if qn.NamespaceIndex < len(namespaces) else str(qn.NamespaceIndex)
    return f"{uri}:{qn.Name}" if qn.NamespaceIndex else f"0:{qn.Name}"


async def _browse_level(
    client: Client, ids: list[ua.NodeId], limits: OperationLimits
) -> list[tuple[list[ua.ReferenceDescription], ua.NodeId | None]]:
    """Forward hierarchical references (Objects and Variables) of every node, continuation points followed,
    and its EngineeringUnits property if it has one (properties are not listed as children)."""
    out: list[tuple[list[ua.ReferenceDescription], ua.NodeId | None]] = []
    for chunk in chunks(ids, limits.browse):
        params = ua.BrowseParameters()
        params.RequestedMaxReferencesPerNode = 0
        for nid in chunk:
            d = ua.BrowseDescription()
            d.NodeId = nid
            d.BrowseDirection = ua.BrowseDirection.Forward
            d.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HierarchicalReferences)
            d.IncludeSubtypes = True
            d.NodeClassMask = ua.NodeClass.Object | ua.NodeClass.Variable
            d.ResultMask = ua.BrowseResultMask.All
            params.NodesToBrowse.append(d)
        results = await client.uaclient.browse(params)
        for res in results:
            refs = list(res.References or [])
            cp = res.ContinuationPoint
            while cp:
                (more,) = await client.uaclient.browse_next(_next_params(cp))
                refs.extend(more.References or [])
                cp = more.ContinuationPoint
            eu = next(
                (r.NodeId for r in refs if r.ReferenceTypeId == _HAS_PROPERTY and r.BrowseName == _EU), None
            )
            kids = [r for r in refs if r.ReferenceTypeId != _HAS_PROPERTY]
            out.append((kids, ua.NodeId(eu.Identifier, eu.NamespaceIndex) if eu is not None else None))
    return out


def _next_params(cp: bytes) -> ua.BrowseNextParameters:
    p = ua.BrowseNextParameters()
    p.ReleaseContinuationPoints = False
    p.ContinuationPoints = [cp]
    return p


async def browse(
    client: Client, root: str | None = None, depth: int | None = None, values: bool = True
) -> list[BrowsedNode]:
    """Every Object and Variable under ``root`` (a NodeId, ``nsu=`` form accepted; default: Objects).

    ``depth`` limits how many levels below the root are listed (None: all). Deterministic order: breadth
    first, children in the order the server lists them.
    """
    namespaces = list(await client.get_namespace_array())
    limits = await read_limits(client)
    start = parse_nodeid(root, namespaces) if root else ua.NodeId(ua.ObjectIds.ObjectsFolder)
    skip_ns0 = root is None
    nodes: list[BrowsedNode] = []
    variables: list[tuple[BrowsedNode, ua.NodeId]] = []
    # EngineeringUnits property of each node whose children were browsed (None: it has none)
    units: dict[ua.NodeId, ua.NodeId | None] = {}
    seen = {start}
    level: deque[tuple[ua.NodeId, list[str], int | None, str | None]] = deque([(start, [], None, None)])
    d = 0
    while level and (depth is None or d < depth):
        d += 1
        parents = list(level)
        level.clear()
        children = await _browse_level(client, [p[0] for p in parents], limits)
        for (pid, path, prev_ns, parent_txt), (refs, eu) in zip(parents, children, strict=True):
            units[pid] = eu
            for ref in refs:
                nid = ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex)
                if nid in seen or (skip_ns0 and nid.NamespaceIndex == 0):
                    continue
                seen.add(nid)
                name = _qualified_name(ref.BrowseName, prev_ns, namespaces)
                td = ref.TypeDefinition
                node = BrowsedNode(
                    node_id=format_nodeid(nid, namespaces),
                    browse_path=[*path, name],
                    node_class=ua.NodeClass(ref.NodeClass).name,
                    type_definition=format_nodeid(ua.NodeId(td.Identifier, td.NamespaceIndex), namespaces)
                    if td is not None and not td.is_null()
                    else None,
                    depth=d,
                    parent=parent_txt,
                )
                nodes.append(node)
                if ref.NodeClass == ua.NodeClass.Variable:
                    variables.append((node, nid))
                level.append((nid, node.browse_path, ref.BrowseName.NamespaceIndex, node.node_id))
    await _describe(client, variables, limits, values, namespaces, units)
    return nodes


async def _describe(
    client: Client,
    variables: list[tuple[BrowsedNode, ua.NodeId]],
    limits: OperationLimits,
    values: bool,
    namespaces: list[str],
    units: dict[ua.NodeId, ua.NodeId | None],
) -> None:
    """DataType, ValueRank, unit and (optionally) value of every variable, in batches.

    A unit is read from the EngineeringUnits property the browse found (``units``); for variables whose
    children were not browsed (the last level of a ``depth``-limited browse) it is looked up by path.
    """
    ids = [nid for _n, nid in variables]
    dtypes = await read_attribute(client, ids, ua.AttributeIds.DataType, limits.read)
    ranks = await read_attribute(client, ids, ua.AttributeIds.ValueRank, limits.read)
    vals = await read_attribute(client, ids, ua.AttributeIds.Value, limits.read) if values else []
    numeric: list[tuple[BrowsedNode, ua.NodeId]] = []
    for i, (node, nid) in enumerate(variables):
        dt = dtypes[i].Value.Value if dtypes[i].StatusCode.is_good() and dtypes[i].Value else None
        if isinstance(dt, ua.NodeId):
            node.data_type = type_name(dt) if dt.NamespaceIndex == 0 else format_nodeid(dt, namespaces)
            if dt.NamespaceIndex == 0 and dt.Identifier in _NUMERIC:
                numeric.append((node, nid))
        vr = ranks[i].Value.Value if ranks[i].StatusCode.is_good() and ranks[i].Value else None
        node.value_rank = vr if isinstance(vr, int) else None
        if values and vals[i].StatusCode.is_good() and vals[i].Value is not None:
            node.value = _json_value(vals[i].Value.Value)
    known = [(n, prop) for n, nid in numeric if nid in units and (prop := units[nid]) is not None]
    found = await read_unit_properties(client, [p for _n, p in known], limits)
    unknown = [(n, nid) for n, nid in numeric if nid not in units]
    looked_up = await read_units(client, [nid for _n, nid in unknown], limits)
    for (node, _id), unit in [*zip(known, found, strict=True), *zip(unknown, looked_up, strict=True)]:
        node.unit = unit
