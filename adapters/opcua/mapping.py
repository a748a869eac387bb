"""Tag mapping: every twin tag -> a node on an OPC UA endpoint, resolved and validated per server.

Building the mapping is pure (plant -> :class:`TagBinding` per endpoint). Resolving it needs a connected
client: namespace URIs become this server's indexes, browse paths are translated in one call, and every
node's NodeClass / DataType / ValueRank (and engineering units, if the tag declares a unit) is read in a few
batched calls. A node that is missing or has the wrong type is reported by name as a
:class:`MappingProblem` (``equipment.tag -> node: problem``); the rest of the mapping still mirrors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, ua
from asyncua.common.ua_utils import get_base_data_type

from adapters.opcua.errors import MappingError
from twin.model import SIM_NAMESPACE_URI, Plant, TagDef, TagType, default_node_id

log = logging.getLogger(__name__)

#: Largest number of nodes per Read/TranslateBrowsePaths request (keeps each request well under the
#: client's watchdog and the server's message limits).
BATCH = 500

# Built-in DataType ids (namespace 0) accepted for each tag type.
_INTS = {2, 3, 4, 5, 6, 7, 8, 9, 27, 28}
_NUMBERS = _INTS | {10, 11, 26, 50}
ACCEPTED_TYPES: dict[TagType, frozenset[int]] = {
    TagType.FLOAT: frozenset(_NUMBERS),
    TagType.INT: frozenset(_INTS),
    TagType.ENUM: frozenset(_INTS | {29}),
    TagType.BOOL: frozenset({1}),
    TagType.STRING: frozenset({12, 21}),
}
_TYPE_NAMES = {
    1: "Boolean",
    2: "SByte",
    3: "Byte",
    4: "Int16",
    5: "UInt16",
    6: "Int32",
    7: "UInt32",
    8: "Int64",
    9: "UInt64",
    10: "Float",
    11: "Double",
    12: "String",
    13: "DateTime",
    14: "Guid",
    15: "ByteString",
    21: "LocalizedText",
    26: "Number",
    27: "Integer",
    28: "UInteger",
    29: "Enumeration",
    50: "Decimal",
}


@dataclass(slots=True)
class TagBinding:
    """Where one twin tag comes from: the endpoint and the node spec from the config (not yet resolved)."""

    equipment: str
    line: str
    tag: TagDef
    endpoint: str
    node: str | None
    browse_path: list[str] | None
    namespace_uri: str

    @property
    def name(self) -> str:
        """``equipment.tag``."""
        return f"{self.equipment}.{self.tag.name}"

    @property
    def spec(self) -> str:
        """The node as the config names it (for messages)."""
        if self.node is not None:
            return self.node
        return "/".join(self.browse_path or [])


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """A tag that cannot be mirrored (``fatal``) or mirrors with a caveat (a unit mismatch)."""

    equipment: str
    tag: str
    node: str
    problem: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.equipment}.{self.tag} -> {self.node}: {self.problem}"


@dataclass(slots=True)
class ResolvedTag:
    """A binding resolved on one server: its NodeId there, whether it is an array, the server's unit."""

    binding: TagBinding
    nodeid: ua.NodeId
    is_array: bool = False
    server_unit: str | None = None
    #: For enumeration tags: the server's code -> name table (values are mirrored as names).
    enum_names: dict[int, str] | None = None


@dataclass(slots=True)
class ResolvedMapping:
    """The outcome of resolving an endpoint's bindings: what mirrors, and what is wrong."""

    tags: list[ResolvedTag] = field(default_factory=list)
    problems: list[MappingProblem] = field(default_factory=list)


# --------------------------------------------------------------------------- building (pure)
def build_bindings(
    plant: Plant, endpoints: Mapping[str, str] | None = None
) -> tuple[dict[str, list[TagBinding]], list[str]]:
    """Every tag of the plant, grouped by endpoint URL, plus the ids of lines with no endpoint at all.

    A tag's endpoint is its own ``endpoint``, else ``endpoints[line]`` (a command-line override), else the
    line's ``opcua.endpoint``. Its node is ``node``, else ``browse_path``, else the simulator's default
    NodeId in the line's namespace URI.
    """
    endpoints = dict(endpoints or {})
    unknown = set(endpoints) - {line.id for line in plant.lines}
    if unknown:
        raise MappingError(f"endpoint override for unknown line(s): {', '.join(sorted(unknown))}")
    out: dict[str, list[TagBinding]] = {}
    unmapped: list[str] = []
    for line in plant.lines:
        line_ep = endpoints.get(line.id) or (line.opcua.endpoint if line.opcua else None)
        ns_uri = line.opcua.namespace_uri if line.opcua else SIM_NAMESPACE_URI
        any_tag = False
        for eq in line.equipment:
            for tag in eq.tags():
                ep = tag.endpoint or line_ep
                if ep is None:
                    continue
                node = tag.node
                if node is None and not tag.browse_path:
                    node = default_node_id(eq.id, tag.name, ns_uri)
                out.setdefault(ep, []).append(
                    TagBinding(eq.id, line.id, tag, ep, node, tag.browse_path, ns_uri)
                )
                any_tag = True
        if not any_tag:
            unmapped.append(line.id)
    return out, unmapped


def parse_nodeid(spec: str, namespaces: Sequence[str]) -> ua.NodeId:
    """Parse a NodeId string; ``nsu=<uri>;`` is resolved against this server's namespace array.

    Raises :class:`MappingError` with the reason (unknown namespace URI, bad syntax).
    """
    text = spec.strip()
    if text.startswith("nsu="):
        uri, sep, rest = text[4:].partition(";")
        if not sep:
            raise MappingError(f"bad NodeId {spec!r}: expected 'nsu=<uri>;<i|s|g|b>=<id>'")
        try:
            idx = list(namespaces).index(uri)
        except ValueError:
            raise MappingError(f"namespace URI {uri!r} is not served by this server") from None
        text = f"ns={idx};{rest}"
    try:
        return ua.NodeId.from_string(text)
    except Exception as exc:  # asyncua raises several types for bad syntax
        raise MappingError(f"bad NodeId {spec!r}: {exc}") from None


def _qualified(element: str, namespaces: Sequence[str], default_ns: int) -> ua.QualifiedName:
    """``"2:Name"``, ``"urn:x:Name"`` (URI up to the last colon) or ``"Name"`` (the line's namespace)."""
    prefix, sep, name = element.rpartition(":")
    if not sep:
        return ua.QualifiedName(element, default_ns)
    if prefix.isdigit():
        return ua.QualifiedName(name, int(prefix))
    try:
        return ua.QualifiedName(name, list(namespaces).index(prefix))
    except ValueError:
        raise MappingError(f"namespace URI {prefix!r} is not served by this server") from None


def relative_path(path: Sequence[str], namespaces: Sequence[str], default_ns: int) -> ua.RelativePath:
    """A RelativePath following hierarchical references through the given browse names."""
    rp = ua.RelativePath()
    for el in path:
        e = ua.RelativePathElement()
        e.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HierarchicalReferences)
        e.IsInverse = False
        e.IncludeSubtypes = True
        e.TargetName = _qualified(el, namespaces, default_ns)
        rp.Elements.append(e)
    return rp


def _chunks(seq: Sequence[Any], n: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


async def _read(client: Client, ids: Sequence[ua.NodeId], attr: ua.AttributeIds) -> list[ua.DataValue]:
    out: list[ua.DataValue] = []
    for chunk in _chunks(ids):
        params = ua.ReadParameters()
        for nid in chunk:
            rv = ua.ReadValueId()
            rv.NodeId = nid
            rv.AttributeId = attr
            params.NodesToRead.append(rv)
        out.extend(await client.uaclient.read(params))
    return out


async def _translate(client: Client, paths: Sequence[tuple[ua.NodeId, ua.RelativePath]]) -> list[Any]:
    out: list[Any] = []
    for chunk in _chunks(paths):
        bps = []
        for start, rp in chunk:
            bp = ua.BrowsePath()
            bp.StartingNode = start
            bp.RelativePath = rp
            bps.append(bp)
        out.extend(await client.uaclient.translate_browsepaths_to_nodeids(bps))
    return out


def _target(res: Any) -> ua.NodeId:
    """The first target of a BrowsePathResult as a plain NodeId."""
    tid = res.Targets[0].TargetId
    return ua.NodeId(tid.Identifier, tid.NamespaceIndex)


def _type_name(dt: ua.NodeId) -> str:
    if dt.NamespaceIndex == 0 and isinstance(dt.Identifier, int):
        return _TYPE_NAMES.get(dt.Identifier, f"i={dt.Identifier}")
    return str(dt.to_string())


async def resolve(client: Client, bindings: Sequence[TagBinding]) -> ResolvedMapping:
    """Resolve and validate ``bindings`` on the server ``client`` is connected to.

    Never raises for a single bad tag: each becomes a :class:`MappingProblem`. Connection errors propagate.
    """
    result = ResolvedMapping()
    namespaces = await client.get_namespace_array()
    pending: list[tuple[TagBinding, ua.NodeId]] = []
    to_browse: list[tuple[TagBinding, ua.RelativePath]] = []
    for b in bindings:
        try:
            if b.node is not None:
                pending.append((b, parse_nodeid(b.node, namespaces)))
            else:
                default_ns = namespaces.index(b.namespace_uri) if b.namespace_uri in namespaces else 0
                to_browse.append((b, relative_path(b.browse_path or [], namespaces, default_ns)))
        except MappingError as exc:
            result.problems.append(MappingProblem(b.equipment, b.tag.name, b.spec, str(exc)))
    if to_browse:
        objects = ua.NodeId(ua.ObjectIds.ObjectsFolder)
        found = await _translate(client, [(objects, rp) for _b, rp in to_browse])
        for (b, _rp), res in zip(to_browse, found, strict=True):
            if res.StatusCode.is_good() and res.Targets:
                pending.append((b, _target(res)))
            else:
                why = res.StatusCode.name if not res.StatusCode.is_good() else "no target"
                result.problems.append(
                    MappingProblem(b.equipment, b.tag.name, b.spec, f"browse path not found ({why})")
                )
    ids = [nid for _b, nid in pending]
    classes = await _read(client, ids, ua.AttributeIds.NodeClass)
    dtypes = await _read(client, ids, ua.AttributeIds.DataType)
    ranks = await _read(client, ids, ua.AttributeIds.ValueRank)
    base_cache: dict[ua.NodeId, ua.NodeId] = {}
    enum_cache: dict[ua.NodeId, dict[int, str] | None] = {}
    candidates: list[ResolvedTag] = []
    for (b, nid), nc, dt, vr in zip(pending, classes, dtypes, ranks, strict=True):
        node_txt = f"{b.spec}" if b.spec == nid.to_string() else f"{b.spec} ({nid.to_string()})"
        if not nc.StatusCode.is_good():
            result.problems.append(
                MappingProblem(b.equipment, b.tag.name, node_txt, f"unknown node ({nc.StatusCode.name})")
            )
            continue
        if nc.Value.Value != ua.NodeClass.Variable:
            kind = ua.NodeClass(nc.Value.Value).name
            result.problems.append(
                MappingProblem(b.equipment, b.tag.name, node_txt, f"is a {kind}, not a Variable")
            )
            continue
        dtype = dt.Value.Value if dt.StatusCode.is_good() else None
        if isinstance(dtype, ua.NodeId):
            base = dtype
            if dtype.NamespaceIndex != 0:  # a server-defined type (e.g. an enumeration): use its base
                if dtype not in base_cache:
                    try:
                        base_cache[dtype] = (await get_base_data_type(client.get_node(dtype))).nodeid
                    except Exception:  # an unbrowsable type: judged by its own id below
                        base_cache[dtype] = dtype
                base = base_cache[dtype]
            ok = base.NamespaceIndex == 0 and base.Identifier in ACCEPTED_TYPES[b.tag.type]
            if not ok:
                result.problems.append(
                    MappingProblem(
                        b.equipment,
                        b.tag.name,
                        node_txt,
                        f"type mismatch: node is {_type_name(dtype)}, tag expects {b.tag.type.value}",
                    )
                )
                continue
        rank = vr.Value.Value if vr.StatusCode.is_good() else -1
        rt = ResolvedTag(b, nid, is_array=isinstance(rank, int) and rank >= 1)
        if b.tag.type is TagType.ENUM and isinstance(dtype, ua.NodeId) and dtype.NamespaceIndex != 0:
            if dtype not in enum_cache:
                enum_cache[dtype] = await _enum_names(client, dtype)
            rt.enum_names = enum_cache[dtype]
        candidates.append(rt)
    await _check_units(client, candidates, result)
    result.tags.extend(candidates)
    return result


async def _enum_names(client: Client, dtype: ua.NodeId) -> dict[int, str] | None:
    """Code -> name of an enumeration DataType: its DataTypeDefinition, else EnumStrings / EnumValues."""
    try:
        (dv,) = await _read(client, [dtype], ua.AttributeIds.DataTypeDefinition)
        fields = getattr(dv.Value.Value, "Fields", None) if dv.StatusCode.is_good() and dv.Value else None
        if fields:
            return {int(f.Value): str(f.Name) for f in fields}
        paths = [(dtype, relative_path([f"0:{p}"], [], 0)) for p in ("EnumStrings", "EnumValues")]
        found = await _translate(client, paths)
        for kind, res in zip(("EnumStrings", "EnumValues"), found, strict=True):
            if not (res.StatusCode.is_good() and res.Targets):
                continue
            (val,) = await _read(client, [_target(res)], ua.AttributeIds.Value)
            items = val.Value.Value if val.StatusCode.is_good() and val.Value else None
            if not items:
                continue
            if kind == "EnumStrings":
                return {i: str(getattr(t, "Text", t)) for i, t in enumerate(items)}
            return {int(e.Value): str(getattr(e.DisplayName, "Text", e.DisplayName)) for e in items}
    except Exception:  # an odd server: mirror the codes as they are
        log.debug("enumeration %s unreadable", dtype, exc_info=True)
    return None


async def _check_units(client: Client, tags: Sequence[ResolvedTag], result: ResolvedMapping) -> None:
    """Read the EngineeringUnits property of tags that declare a unit; a mismatch is a non-fatal problem."""
    with_unit = [t for t in tags if t.binding.tag.unit]
    if not with_unit:
        return
    rp = relative_path(["0:EngineeringUnits"], [], 0)
    found = await _translate(client, [(t.nodeid, rp) for t in with_unit])
    props = [
        (t, _target(r)) for t, r in zip(with_unit, found, strict=True) if r.StatusCode.is_good() and r.Targets
    ]
    values = await _read(client, [nid for _t, nid in props], ua.AttributeIds.Value)
    for (t, _nid), dv in zip(props, values, strict=True):
        eu = dv.Value.Value if dv.StatusCode.is_good() and dv.Value is not None else None
        unit = getattr(getattr(eu, "DisplayName", None), "Text", None)
        t.server_unit = unit
        if unit and unit != t.binding.tag.unit:
            b = t.binding
            result.problems.append(
                MappingProblem(
                    b.equipment,
                    b.tag.name,
                    b.spec,
                    f"unit mismatch: server says {unit!r}, tag declares {b.tag.unit!r} (mirrored as is)",
                    fatal=False,
                )
            )


# --------------------------------------------------------------------------- value checks (hot path)
#: Returned by a checker for a value that fails the tag's type or range.
BAD = object()


def make_checker(tag: TagDef, enum_names: Mapping[int, str] | None = None) -> Callable[[Any], Any]:
    """A fast ``value -> cleaned value or BAD`` for one tag: type and min/max (arrays: per element)."""
    lo = tag.min if tag.min is not None else -math.inf
    hi = tag.max if tag.max is not None else math.inf
    ranged = tag.min is not None or tag.max is not None
    t = tag.type
    names = dict(enum_names or {})
    known_names = set(names.values())

    def enum(v: Any) -> Any:
        if type(v) is str:
            return v if v in known_names else BAD
        if isinstance(v, int) and type(v) is not bool:
            return names.get(int(v), BAD)
        return BAD

    def scalar(v: Any) -> Any:
        cls = type(v)
        if t is TagType.FLOAT:
            if cls is float:
                if v != v or v in (math.inf, -math.inf):  # NaN / infinities
                    return BAD
            elif cls is not int:
                return BAD
        elif t is TagType.INT or t is TagType.ENUM:
            if cls is not int:
                if (cls is float and v.is_integer()) or (isinstance(v, int) and cls is not bool):
                    v = int(v)
                else:
                    return BAD
        elif t is TagType.BOOL:
            return v if cls is bool else BAD
        else:  # STRING
            if cls is str:
                return v
            text = getattr(v, "Text", None)  # LocalizedText
            return text if isinstance(text, str) else BAD
        if ranged and not lo <= v <= hi:
            return BAD
        return v

    if names:
        scalar = enum

    def check(v: Any) -> Any:
        if type(v) is list:
            out = [scalar(x) for x in v]
            return BAD if any(x is BAD for x in out) else out
        return scalar(v)

    check.scalar = scalar  # type: ignore[attr-defined]  # the hot path calls it directly for non-lists
    return check
