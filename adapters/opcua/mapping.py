"""Tag mapping: every twin tag -> a node on an OPC UA endpoint; the types of a mapping and its NodeIds.

Building the mapping is pure (plant -> :class:`TagBinding` per endpoint, with the line's template and the
equipment's overrides laid on). Resolving it on a server (:mod:`adapters.opcua.resolve`) yields a
:class:`ResolvedMapping`: the tags that mirror and, named ``equipment.tag -> node: problem``, each
:class:`MappingProblem`. NodeIds are parsed and written in ``nsu=<namespace uri>;...`` form here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua

from adapters.opcua.errors import MappingError
from adapters.opcua.limits import OperationLimits
from twin.binding import bound_tags
from twin.model import SIM_NAMESPACE_URI, Plant, TagDef
from twin.tagsource import Rule

__all__ = [
    "MappingProblem",
    "ResolvedMapping",
    "ResolvedTag",
    "TagBinding",
    "build_bindings",
    "format_nodeid",
    "parse_nodeid",
    "relative_path",
    "target",
    "type_name",
]

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
    def rules(self) -> list[Rule]:
        """The tag's ``when`` rules that test a node of their own (NodeId or browse path), in order."""
        return [r for r in self.tag.when or [] if r.on_node]

    @property
    def rule_nodes(self) -> list[str]:
        """The nodes the tag's ``when`` rules test (besides its own node), as the config names them."""
        return [r.node if r.node is not None else "/".join(r.browse_path or []) for r in self.rules]

    @property
    def spec(self) -> str:
        """The node as the config names it (for messages)."""
        if self.node is not None:
            return self.node
        if self.browse_path:
            return "/".join(self.browse_path)
        return " | ".join(self.rule_nodes)


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """A tag that cannot be mirrored (``fatal``) or mirrors with a caveat."""

    equipment: str
    tag: str
    node: str
    problem: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.equipment}.{self.tag} -> {self.node}: {self.problem}"

    def as_row(self) -> dict[str, Any]:
        """The problem as the twin store records it (``equipment, tag, node, problem, fatal``)."""
        return {
            "equipment": self.equipment,
            "tag": self.tag,
            "node": self.node,
            "problem": self.problem,
            "fatal": self.fatal,
        }


@dataclass(slots=True)
class ResolvedTag:
    """A binding resolved on one server: its NodeIds there, whether it is an array, the server's unit."""

    binding: TagBinding
    #: The tag's own node (None for a state derived only from ``when`` rules).
    nodeid: ua.NodeId | None
    is_array: bool = False
    server_unit: str | None = None
    #: For enumeration tags: the server's code -> name table (values are mirrored as names).
    enum_names: dict[int, str] | None = None
    #: The nodes the tag's ``when`` rules test, in rule order.
    rule_ids: list[ua.NodeId] = field(default_factory=list)
    #: ``(factor, offset)`` from the server's unit to the tag's, if they differ.
    unit: tuple[float, float] | None = None
    data_type: str = ""

    @property
    def nodeids(self) -> list[ua.NodeId]:
        """Every node monitored for this tag: its own (if any), then its rule nodes."""
        return ([self.nodeid] if self.nodeid is not None else []) + self.rule_ids


@dataclass(slots=True)
class ResolvedMapping:
    """The outcome of resolving an endpoint's bindings: what mirrors, and what is wrong."""

    tags: list[ResolvedTag] = field(default_factory=list)
    problems: list[MappingProblem] = field(default_factory=list)
    limits: OperationLimits = field(default_factory=OperationLimits)


# --------------------------------------------------------------------------- building (pure)
def build_bindings(
    plant: Plant, endpoints: Mapping[str, str] | None = None
) -> tuple[dict[str, list[TagBinding]], list[str]]:
    """Every mirrored tag of the plant, grouped by endpoint URL, plus the ids of lines with no endpoint.

    A tag's endpoint is its own ``endpoint``, else ``endpoints[line]`` (a command-line override), else the
    line's ``opcua.endpoint``. Its source is :func:`twin.binding.bound_tags`'s: own definition, line
    template, equipment override; tags without one use the simulator's NodeId or are absent.
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
            for tag in bound_tags(line, eq):
                ep = tag.endpoint or line_ep
                if ep is None:
                    continue
                out.setdefault(ep, []).append(
                    TagBinding(eq.id, line.id, tag, ep, tag.node, tag.browse_path, ns_uri)
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


def format_nodeid(nid: ua.NodeId, namespaces: Sequence[str]) -> str:
    """A NodeId as ``nsu=<uri>;<id>`` (namespace 0: the plain ``i=85`` form)."""
    text = str(nid.to_string())
    if nid.NamespaceIndex == 0:
        return text
    _ns, _sep, ident = text.partition(";")
    uri = namespaces[nid.NamespaceIndex] if nid.NamespaceIndex < len(namespaces) else None
    return f"nsu={uri};{ident}" if uri else text


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
    """A RelativePath following hierarchical references through the given browse names.

    An unqualified name is in the namespace of the name before it (the first: ``default_ns``), so
    ``["urn:acme:plc:Plant", "Line1", "AGV"]`` stays in ``urn:acme:plc`` throughout.
    """
    rp = ua.RelativePath()
    ns = default_ns
    for el in path:
        e = ua.RelativePathElement()
        e.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HierarchicalReferences)
        e.IsInverse = False
        e.IncludeSubtypes = True
        e.TargetName = _qualified(el, namespaces, ns)
        ns = e.TargetName.NamespaceIndex
        rp.Elements.append(e)
    return rp


def target(res: Any) -> ua.NodeId:
    """The first target of a BrowsePathResult as a plain NodeId."""
    tid = res.Targets[0].TargetId
    return ua.NodeId(tid.Identifier, tid.NamespaceIndex)


def type_name(dt: ua.NodeId) -> str:
    """A built-in DataType's name (``Double``), else its NodeId."""
    if dt.NamespaceIndex == 0 and isinstance(dt.Identifier, int):
        return _TYPE_NAMES.get(dt.Identifier, f"i={dt.Identifier}")
    return str(dt.to_string())
