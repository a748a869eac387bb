"""Where each tag of a piece of equipment is read from: its definition, the equipment's ``opcua`` entry or the
line's template, laid over one another, and the simulator's default NodeIds for tags left unlocated."""

from __future__ import annotations

from typing import Any

from twin.model import SIM_NAMESPACE_URI, Equipment, Line, Naming, TagDef
from twin.tagsource import Rule, TagSource

__all__ = ["bound_tags", "default_node_id", "expand"]


def expand(text: str, equipment: str, line: str, index: int) -> str:
    """A template string with ``{equipment}``, ``{line}`` and ``{index}`` filled in."""
    return text.replace("{equipment}", equipment).replace("{line}", line).replace("{index}", str(index))


def bound_tags(line: Line, eq: Equipment) -> list[TagDef]:
    """The tags of ``eq`` that are mirrored from ``line``'s PLC, each with its full source.

    A tag's source is its own definition with, laid over it, the equipment's ``opcua`` entry for it or
    else the line's template entry (an equipment entry replaces the template's as a whole). A tag with
    no location gets the simulator's default NodeId (``naming: simulator``) or is left out
    (``naming: explicit``).
    """
    op = line.opcua
    template = op.template if op else {}
    index = 1 + next((i for i, e in enumerate(line.equipment) if e.id == eq.id), 0)
    out: list[TagDef] = []
    for tag in eq.tags():
        if tag.name in eq.opcua and eq.opcua[tag.name] is None:
            continue
        src = eq.opcua.get(tag.name)  # the equipment's own entry replaces the template's as a whole
        if src is None and tag.name in template:
            tpl = template[tag.name]
            src = tpl.model_copy(update=_expanded(tpl, eq.id, line.id, index))
        t = tag.with_source(src)
        if not t.located():
            if op is not None and op.naming is Naming.EXPLICIT:
                continue
            ns = op.namespace_uri if op else SIM_NAMESPACE_URI
            t = t.model_copy(update={"node": default_node_id(eq.id, tag.name, ns)})
        out.append(t)
    return out


def _expanded(src: TagSource, equipment: str, line: str, index: int) -> dict[str, Any]:
    """The location fields of a template entry with its placeholders filled in."""
    upd: dict[str, Any] = {}
    if src.node is not None:
        upd["node"] = expand(src.node, equipment, line, index)
    if src.browse_path is not None:
        upd["browse_path"] = [expand(p, equipment, line, index) for p in src.browse_path]
    if src.when is not None:
        upd["when"] = [_expanded_rule(r, equipment, line, index) for r in src.when]
    return upd


def _expanded_rule(rule: Rule, equipment: str, line: str, index: int) -> Rule:
    """A template's rule with the placeholders of its node or browse path filled in."""
    upd: dict[str, Any] = {}
    if rule.node is not None:
        upd["node"] = expand(rule.node, equipment, line, index)
    if rule.browse_path is not None:
        upd["browse_path"] = [expand(p, equipment, line, index) for p in rule.browse_path]
    return rule.model_copy(update=upd) if upd else rule


def default_node_id(equipment_id: str, tag: str, namespace_uri: str = SIM_NAMESPACE_URI) -> str:
    """The NodeId (by namespace URI) under which the simulator serves ``tag`` of ``equipment_id``."""
    return f"nsu={namespace_uri};s={equipment_id}.{tag}"
