"""Resolving a mapping on one server: NodeIds located, then every node checked, in batches.

Namespace URIs become this server's indexes, browse paths are translated, and every node's NodeClass /
DataType / ValueRank (and engineering units, if the tag declares a unit) is read, all in batches within
the server's OperationLimits. A node that is missing, has the wrong type, or a unit that does not convert
is reported by name as a :class:`~adapters.opcua.mapping.MappingProblem` (``equipment.tag -> node:
problem``); the rest of the mapping still mirrors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from asyncua import Client, ua
from asyncua.common.ua_utils import get_base_data_type

from adapters.opcua.errors import MappingError
from adapters.opcua.limits import OperationLimits, read_attribute, read_limits, translate
from adapters.opcua.mapping import (
    MappingProblem,
    ResolvedMapping,
    ResolvedTag,
    TagBinding,
    format_nodeid,
    parse_nodeid,
    relative_path,
    target,
    type_name,
)
from adapters.opcua.units import conversion, unit_of
from twin.model import StationState, TagDef, TagType, standard_tags
from twin.tagsource import ArrayReduce

__all__ = ["ACCEPTED_TYPES", "read_unit_properties", "read_units", "resolve"]

log = logging.getLogger(__name__)

# Built-in DataType ids (namespace 0) accepted for each tag type.
_INTS = {2, 3, 4, 5, 6, 7, 8, 9, 27, 28}
_NUMBERS = _INTS | {10, 11, 26, 50}
ACCEPTED_TYPES: dict[TagType, frozenset[int]] = {
    TagType.FLOAT: frozenset(_NUMBERS),
    TagType.INT: frozenset(_INTS),
    TagType.ENUM: frozenset(_INTS | {12, 21, 29}),
    TagType.BOOL: frozenset({1}),
    TagType.STRING: frozenset({12, 21}),
}
#: What a node behind a code map or rules may hold: codes, Booleans, text, enumerations.
_CODES = frozenset(_INTS | {1, 12, 21, 29})


class _Resolver:
    """One resolve pass: nodes located, then checked in batches; problems collected by tag."""

    def __init__(self, client: Client, namespaces: list[str], limits: OperationLimits) -> None:
        self.client = client
        self.namespaces = namespaces
        self.limits = limits
        self.result = ResolvedMapping(limits=limits)
        self.base_cache: dict[ua.NodeId, ua.NodeId] = {}
        self.enum_cache: dict[ua.NodeId, dict[int, str] | None] = {}

    def problem(self, b: TagBinding, node: str, text: str, fatal: bool = True) -> None:
        self.result.problems.append(MappingProblem(b.equipment, b.tag.name, node, text, fatal))

    async def locate(
        self, bindings: Sequence[TagBinding]
    ) -> list[tuple[TagBinding, ua.NodeId | None, list[ua.NodeId]]]:
        """Each binding's own NodeId and its rules' NodeIds, parsed or browsed; bad ones become problems.

        Every browse path (a tag's own, or a ``when`` rule's) is translated in one batched pass.
        """
        located: list[tuple[TagBinding, ua.NodeId | None, list[ua.NodeId | None]]] = []
        # (index into located, -1 for the tag's own node or the rule's index, path, the path as configured)
        to_browse: list[tuple[int, int, ua.RelativePath, str]] = []
        for b in bindings:
            try:
                own = parse_nodeid(b.node, self.namespaces) if b.node is not None else None
                paths: list[tuple[int, list[str]]] = []
                if b.node is None and b.browse_path:
                    paths.append((-1, b.browse_path))
                rules: list[ua.NodeId | None] = []
                for k, r in enumerate(b.rules):
                    rules.append(parse_nodeid(r.node, self.namespaces) if r.node is not None else None)
                    if r.node is None:
                        paths.append((k, r.browse_path or []))
                queued = [(len(located), k, self._path(b, p), "/".join(p)) for k, p in paths]
            except MappingError as exc:
                self.problem(b, b.spec, str(exc))
                continue
            to_browse += queued
            located.append((b, own, rules))
        lost = await self._browse_paths(located, to_browse)
        return [
            (b, own, [r for r in rules if r is not None])
            for i, (b, own, rules) in enumerate(located)
            if i not in lost
        ]

    def _path(self, b: TagBinding, path: Sequence[str]) -> ua.RelativePath:
        """A browse path of ``b`` (its own or a rule's); unqualified names start in the line's namespace."""
        ns = self.namespaces
        return relative_path(path, ns, ns.index(b.namespace_uri) if b.namespace_uri in ns else 0)

    async def _browse_paths(
        self,
        located: list[tuple[TagBinding, ua.NodeId | None, list[ua.NodeId | None]]],
        to_browse: Sequence[tuple[int, int, ua.RelativePath, str]],
    ) -> set[int]:
        """Translate the queued paths into ``located`` (in place); returns the tags with a path not found."""
        if not to_browse:
            return set()
        objects = ua.NodeId(ua.ObjectIds.ObjectsFolder)
        found = await translate(
            self.client, [(objects, rp) for _i, _s, rp, _t in to_browse], self.limits.translate
        )
        lost: set[int] = set()
        for (i, slot, _rp, text), res in zip(to_browse, found, strict=True):
            b, _own, rules = located[i]
            if res.StatusCode.is_good() and res.Targets:
                if slot < 0:
                    located[i] = (b, target(res), rules)
                else:
                    rules[slot] = target(res)
            else:
                why = res.StatusCode.name if not res.StatusCode.is_good() else "no target"
                self.problem(b, b.spec if slot < 0 else text, f"browse path not found ({why})")
                lost.add(i)
        return lost

    async def check(self, located: Sequence[tuple[TagBinding, ua.NodeId | None, list[ua.NodeId]]]) -> None:
        """Read NodeClass, DataType and ValueRank of every node; keep the tags whose nodes all pass."""
        ids = [n for _b, own, rules in located for n in ([own] if own is not None else []) + rules]
        batch = self.limits.read
        classes = await read_attribute(self.client, ids, ua.AttributeIds.NodeClass, batch)
        dtypes = await read_attribute(self.client, ids, ua.AttributeIds.DataType, batch)
        ranks = await read_attribute(self.client, ids, ua.AttributeIds.ValueRank, batch)
        k = 0
        candidates: list[ResolvedTag] = []
        for b, own, rules in located:
            rt = ResolvedTag(b, own, rule_ids=rules)
            ok = True
            for j, nid in enumerate(rt.nodeids):
                is_own = own is not None and j == 0
                ok = await self._node(rt, nid, is_own, classes[k], dtypes[k], ranks[k]) and ok
                k += 1
            if ok:
                candidates.append(rt)
        await self._units(candidates)

    async def _node(
        self,
        rt: ResolvedTag,
        nid: ua.NodeId,
        is_own: bool,
        nc: ua.DataValue,
        dt: ua.DataValue,
        vr: ua.DataValue,
    ) -> bool:
        """Check one node of a tag; records a problem and returns False if it cannot be mirrored."""
        b = rt.binding
        spec = (b.node or b.spec) if is_own else nid.to_string()
        if is_own:
            node_txt = spec if spec == nid.to_string() else f"{spec} ({nid.to_string()})"
        else:
            node_txt = format_nodeid(nid, self.namespaces)
        if not nc.StatusCode.is_good():
            self.problem(b, node_txt, f"unknown node ({nc.StatusCode.name})")
            return False
        if nc.Value.Value != ua.NodeClass.Variable:
            self.problem(b, node_txt, f"is a {ua.NodeClass(nc.Value.Value).name}, not a Variable")
            return False
        if not is_own:
            return True  # a rule's node: its value is compared as it is
        tag = b.tag
        rank = vr.Value.Value if vr.StatusCode.is_good() else -1
        rt.is_array = isinstance(rank, int) and rank >= 1
        standard = {t.name for t in standard_tags_of(b)}
        if rt.is_array and tag.array is None and (tag.name in standard or tag.map is not None or tag.preset):
            self.problem(
                b,
                node_txt,
                f"is an array (ValueRank {rank}) but {tag.name!r} is a scalar: declare "
                "array: max|min|mean|sum|any|all|first (or keep)",
            )
            return False
        dtype = dt.Value.Value if dt.StatusCode.is_good() else None
        if isinstance(dtype, ua.NodeId):
            base = await self._base_type(dtype)
            rt.data_type = type_name(dtype)
            accepted = _CODES if (tag.map is not None or tag.preset or tag.when) else ACCEPTED_TYPES[tag.type]
            if tag.array in (ArrayReduce.ANY, ArrayReduce.ALL):
                accepted = accepted | {1}
            if tag.scale is not None and tag.type in (TagType.INT, TagType.FLOAT):
                accepted = accepted | _NUMBERS  # raw counts of any numeric type, scaled
            if not (base.NamespaceIndex == 0 and base.Identifier in accepted):
                self.problem(
                    b, node_txt, f"type mismatch: node is {type_name(dtype)}, tag expects {tag.type.value}"
                )
                return False
            if dtype.NamespaceIndex != 0 and (tag.type is TagType.ENUM or tag.map is not None):
                if dtype not in self.enum_cache:
                    self.enum_cache[dtype] = await _enum_names(self.client, dtype)
                rt.enum_names = self.enum_cache[dtype]
            if tag.name == "state" and base.Identifier in (12, 21) and not (tag.map or tag.preset):
                # a state served as text: station state names pass, any other text is uncertain
                names: dict[int | str, str] = {st.value: st.value for st in StationState}
                rt.binding = replace(b, tag=tag.model_copy(update={"map": names}))
        return True

    async def _base_type(self, dtype: ua.NodeId) -> ua.NodeId:
        if dtype.NamespaceIndex == 0:
            return dtype
        if dtype not in self.base_cache:  # a server-defined type (e.g. an enumeration): use its base
            try:
                self.base_cache[dtype] = (await get_base_data_type(self.client.get_node(dtype))).nodeid
            except Exception:  # an unbrowsable type: judged by its own id
                self.base_cache[dtype] = dtype
        return self.base_cache[dtype]

    async def _units(self, tags: Sequence[ResolvedTag]) -> None:
        """Read EngineeringUnits of tags that declare a unit: convert, or a problem if they cannot."""
        with_unit = [t for t in tags if t.binding.tag.unit and t.nodeid is not None]
        units = await read_units(
            self.client, [t.nodeid for t in with_unit if t.nodeid is not None], self.limits
        )
        for t, unit in zip(with_unit, units, strict=True):
            t.server_unit = unit
            b = t.binding
            if unit is None or b.tag.unit is None:
                continue
            try:
                t.unit = conversion(unit, b.tag.unit)
            except MappingError as exc:
                self.problem(b, b.spec, str(exc))
                tags = [x for x in tags if x is not t]
        self.result.tags.extend(tags)


def standard_tags_of(b: TagBinding) -> tuple[TagDef, ...]:
    """Standard tags of every equipment type that has ``b``'s tag name (they are all scalars)."""
    from twin.model import EquipmentType

    return tuple(t for kind in EquipmentType for t in standard_tags(kind) if t.name == b.tag.name)


async def read_units(client: Client, ids: Sequence[ua.NodeId], limits: OperationLimits) -> list[str | None]:
    """Each node's unit from its EngineeringUnits property (None where it has none)."""
    if not ids:
        return []
    rp = relative_path(["0:EngineeringUnits"], [], 0)
    found = await translate(client, [(nid, rp) for nid in ids], limits.translate)
    props = [(i, target(r)) for i, r in enumerate(found) if r.StatusCode.is_good() and r.Targets]
    out: list[str | None] = [None] * len(ids)
    units = await read_unit_properties(client, [nid for _i, nid in props], limits)
    for (i, _nid), unit in zip(props, units, strict=True):
        out[i] = unit
    return out


async def read_unit_properties(
    client: Client, props: Sequence[ua.NodeId], limits: OperationLimits
) -> list[str | None]:
    """The unit each EngineeringUnits property (an EUInformation value) names, None where it names none."""
    values = await read_attribute(client, props, ua.AttributeIds.Value, limits.read)
    out: list[str | None] = []
    for dv in values:
        eu = dv.Value.Value if dv.StatusCode.is_good() and dv.Value is not None else None
        text = getattr(getattr(eu, "DisplayName", None), "Text", None)
        out.append(unit_of(text, getattr(eu, "UnitId", None)))
    return out


async def resolve(
    client: Client, bindings: Sequence[TagBinding], limits: OperationLimits | None = None
) -> ResolvedMapping:
    """Resolve and validate ``bindings`` on the server ``client`` is connected to.

    Never raises for a single bad tag: each becomes a :class:`MappingProblem`. Connection errors propagate.
    The server's OperationLimits are read first (unless given) and every batch kept within them.
    """
    if limits is None:
        limits = await read_limits(client)
    r = _Resolver(client, list(await client.get_namespace_array()), limits)
    located = await r.locate(bindings)
    await r.check(located)
    return r.result


async def _enum_names(client: Client, dtype: ua.NodeId) -> dict[int, str] | None:
    """Code -> name of an enumeration DataType: its DataTypeDefinition, else EnumStrings / EnumValues."""
    try:
        (dv,) = await read_attribute(client, [dtype], ua.AttributeIds.DataTypeDefinition)
        fields = getattr(dv.Value.Value, "Fields", None) if dv.StatusCode.is_good() and dv.Value else None
        if fields:
            return {int(f.Value): str(f.Name) for f in fields}
        paths = [(dtype, relative_path([f"0:{p}"], [], 0)) for p in ("EnumStrings", "EnumValues")]
        found = await translate(client, paths)
        for kind, res in zip(("EnumStrings", "EnumValues"), found, strict=True):
            if not (res.StatusCode.is_good() and res.Targets):
                continue
            (val,) = await read_attribute(client, [target(res)], ua.AttributeIds.Value)
            items = val.Value.Value if val.StatusCode.is_good() and val.Value else None
            if not items:
                continue
            if kind == "EnumStrings":
                return {i: str(getattr(t, "Text", t)) for i, t in enumerate(items)}
            return {int(e.Value): str(getattr(e.DisplayName, "Text", e.DisplayName)) for e in items}
    except Exception:  # an odd server: mirror the codes as they are
        log.debug("enumeration %s unreadable", dtype, exc_info=True)
    return None
