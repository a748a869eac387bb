"""Checks of where tags are read from: NodeIds, browse paths, endpoints, transforms, templates.

Part of the plant-file validation (:func:`twin.config.check_plant`): each check reports a field path and a
problem through ``fail`` and never returns on an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn

from twin.model import Equipment, Line, StationState, TagDef
from twin.tagsource import TEMPLATE_FIELDS, Rule, TagSource

__all__ = [
    "ENDPOINT_RE",
    "NODE_ID_RE",
    "Fail",
    "check_browse_path",
    "check_endpoint",
    "check_overrides",
    "check_rule_source",
    "check_source",
    "check_tag",
    "check_template",
]

#: Raises :class:`ConfigError` for a field path and a problem (never returns).
Fail = Callable[[str, str], NoReturn]


#: A NodeId string: ``ns=<index>;`` or ``nsu=<uri>;`` (or nothing: namespace 0), then an identifier of type
#: numeric ``i=``, string ``s=``, GUID ``g=`` or opaque/base64 ``b=``.
NODE_ID_RE = re.compile(
    r"^(?:(?:ns=\d+|nsu=[^;\s]+);)?"
    r"(?:i=\d+|s=.+|g=[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|b=[A-Za-z0-9+/]+=*)$",
    re.DOTALL,
)
#: An OPC UA TCP endpoint URL: ``opc.tcp://host[:port][/path]``.
ENDPOINT_RE = re.compile(
    r"^opc\.tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:\s\[\]]+)(?::(?P<port>\d{1,5}))?(?:/\S*)?$"
)

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_STATE_NAMES = {s.value for s in StationState}
_PLACEHOLDERS = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)


def check_node(node: str, path: str, fail: Fail, template: bool) -> None:
    """NodeId syntax; in a template, only the known placeholders."""
    if template:
        for name in _PLACEHOLDER.findall(node):
            if name not in TEMPLATE_FIELDS:
                fail(path, f"unknown placeholder {{{name}}} (use {_PLACEHOLDERS})")
    if not NODE_ID_RE.match(node):
        fail(
            path,
            f"bad NodeId {node!r}: expected ns=<index>;i=<number> | s=<text> | g=<guid> | b=<base64> "
            "(or nsu=<namespace uri>;... in place of ns=)",
        )


def check_source(src: TagSource, path: str, fail: Fail, tag: str, template: bool = False) -> None:
    """A tag source's NodeId syntax, browse path, endpoint, transforms and rules."""
    if src.node is not None:
        check_node(src.node, f"{path}.node", fail, template)
    if src.node is not None and src.browse_path is not None:
        fail(f"{path}.browse_path", "give either node or browse_path, not both")
    if src.browse_path is not None:
        check_browse_path(src.browse_path, f"{path}.browse_path", fail)
    if src.endpoint is not None:
        check_endpoint(src.endpoint, f"{path}.endpoint", fail)
    if src.map is not None and src.preset is not None and not src.map:
        fail(f"{path}.map", "empty map")
    targets = [
        *(src.map or {}).values(),
        *(r.value for r in src.when or []),
        *([src.default] if src.default else []),
    ]
    if tag == "state":
        for value in targets:
            if value not in _STATE_NAMES:
                fail(path, f"{value!r} is not a station state (one of: {', '.join(sorted(_STATE_NAMES))})")
    for ri, rule in enumerate(src.when or []):
        check_rule_source(rule, f"{path}.when[{ri}]", fail, template)
    if src.when and src.node is None and not src.browse_path and src.default is None:
        fail(
            f"{path}.default",
            "a state derived only from rules needs a default (the value when no rule matches)",
        )
    if src.default is not None and not src.when:
        fail(f"{path}.default", "default is the value when no 'when' rule matches: give the rules too")
    sc = src.scale
    if sc is not None:
        if (sc.raw is None) != (sc.eng is None):
            fail(f"{path}.scale", "give both raw and eng ranges (or factor/offset)")
        if sc.raw is not None and sc.raw[0] == sc.raw[1]:
            fail(f"{path}.scale.raw", "the raw range is empty (its ends are equal)")
        if sc.raw is not None and sc.factor is not None:
            fail(f"{path}.scale", "give either factor/offset or raw/eng ranges, not both")


def check_browse_path(browse_path: list[str], path: str, fail: Fail) -> None:
    """A browse path: at least one name, none empty."""
    if not browse_path:
        fail(path, "empty browse path: list the browse names from the Objects folder")
    for bi, name in enumerate(browse_path):
        if not name.strip():
            fail(f"{path}[{bi}]", "empty browse name")


def check_rule_source(rule: Rule, path: str, fail: Fail, template: bool) -> None:
    """What a ``when`` rule tests: a node (NodeId or browse path, not both) or a bit of the tag's node."""
    if not rule.on_node and rule.bit is None:
        fail(
            path, "a rule needs a node or browse_path (a Boolean or code to test) or a bit of the tag's node"
        )
    if rule.node is not None and rule.browse_path is not None:
        fail(f"{path}.browse_path", "give either node or browse_path, not both")
    if rule.node is not None:
        check_node(rule.node, f"{path}.node", fail, template)
    if rule.browse_path is not None:
        check_browse_path(rule.browse_path, f"{path}.browse_path", fail)


def check_tag(tag: TagDef, path: str, fail: Fail) -> None:
    """A tag's range and its source."""
    if tag.min is not None and tag.max is not None and tag.min > tag.max:
        fail(f"{path}.min", f"min {tag.min} is greater than max {tag.max}")
    check_source(tag, path, fail, tag.name)


def check_endpoint(url: str, path: str, fail: Fail) -> None:
    m = ENDPOINT_RE.match(url)
    if m is None:
        fail(path, f"bad OPC UA endpoint {url!r}: expected opc.tcp://host:port[/path]")
        return
    port = m.group("port")
    if port is not None and not 0 < int(port) < 65536:
        fail(path, f"bad OPC UA endpoint {url!r}: port {port} is out of range 1-65535")


def check_overrides(e: Equipment, path: str, fail: Fail) -> None:
    """An equipment's ``opcua`` entries: known tag names, valid sources."""
    tag_names = [t.name for t in e.tags()]
    for name, tsrc in e.opcua.items():
        if name not in tag_names:
            fail(f"{path}.opcua.{name}", f"{e.id!r} has no tag {name!r} (its tags: {', '.join(tag_names)})")
        if tsrc is not None:
            check_source(tsrc, f"{path}.opcua.{name}", fail, name)


def check_template(line: Line, path: str, fail: Fail) -> None:
    """A line's tag template: names some equipment of the line has, valid sources and placeholders."""
    if line.opcua is None:
        return
    all_tags = {t.name for e in line.equipment for t in e.tags()}
    for name, tsrc in line.opcua.template.items():
        if name not in all_tags:
            fail(f"{path}.{name}", f"no equipment of line {line.id!r} has a tag {name!r}")
        check_source(tsrc, f"{path}.{name}", fail, name, template=True)
