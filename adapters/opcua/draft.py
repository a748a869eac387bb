"""Draft a plant file from a browsed address space: one station per object that holds variables.

The draft is a starting point a person finishes, but it loads as it is (``twin load``): each object that
holds variables (or each instance of a given ObjectType) becomes a station of one line whose ``opcua``
names the endpoint with ``naming: explicit``; each variable becomes a tag bound by its ``nsu=`` NodeId with
its type and unit. Obvious standard tags (state/status, count, power, energy, alarm, cycle time, model)
are guessed by name and marked ``# guess`` (power and energy are converted from the server's unit); the
operations, routing, cycle times and layout are marked ``# TODO``. Same browse, same text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.opcua.browse import BrowsedNode
from adapters.opcua.errors import MappingError

__all__ = ["draft_plant"]

_INT = {"SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Integer", "UInteger"}
_FLOAT = {"Float", "Double", "Number", "Decimal"}
_TEXT = {"String", "LocalizedText"}

#: (standard tag, name pattern, accepted tag types of the node), tried in order; each at most once.
_GUESSES: tuple[tuple[str, re.Pattern[str], frozenset[str]], ...] = (
    ("state", re.compile(r"state|status", re.I), frozenset({"int", "enum", "string"})),
    ("part_count", re.compile(r"count|parts|produced|pieces", re.I), frozenset({"int"})),
    ("power_kw", re.compile(r"power", re.I), frozenset({"float", "int"})),
    ("energy_kwh", re.compile(r"energy", re.I), frozenset({"float", "int"})),
    ("cycle_time_s", re.compile(r"cycle", re.I), frozenset({"float", "int"})),
    ("alarm", re.compile(r"alarm|fault|error", re.I), frozenset({"string"})),
    ("model", re.compile(r"model|recipe|variant|program", re.I), frozenset({"string"})),
)
_STD_UNITS = {"power_kw": "kW", "energy_kwh": "kWh", "cycle_time_s": "s"}


@dataclass(slots=True)
class _Station:
    id: str
    node: BrowsedNode
    variables: list[BrowsedNode]


def _tag_type(n: BrowsedNode) -> str | None:
    dt = n.data_type or ""
    if dt == "Boolean":
        return "bool"
    if dt in _INT:
        return "int"
    if dt in _FLOAT:
        return "float"
    if dt in _TEXT:
        return "string"
    if dt.startswith("nsu=") or dt == "Enumeration":
        return "enum"  # a server-defined type: most often an enumeration
    return None


def _ident(text: str, pattern: str, fallback: str) -> str:
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    if pattern == "tag":
        out = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", out).lower()
        return out if out and not out[0].isdigit() else f"t_{out}" if out else fallback
    out = out.replace("_", "-") if out else fallback
    return out if out[0].isalnum() else f"E{out}"


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    taken.add(out)
    return out


def _q(text: str) -> str:
    """A YAML scalar that reads back as exactly ``text`` (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _stations(nodes: Sequence[BrowsedNode], type_id: str | None) -> list[_Station]:
    by_parent: dict[str, list[BrowsedNode]] = {}
    for n in nodes:
        if n.node_class == "Variable" and n.parent is not None:
            by_parent.setdefault(n.parent, []).append(n)
    taken: set[str] = set()
    out: list[_Station] = []
    for n in nodes:
        if n.node_class != "Object":
            continue
        if type_id is not None and n.type_definition != type_id:
            continue
        variables = [v for v in by_parent.get(n.node_id, []) if _tag_type(v) is not None]
        if type_id is None and not variables:
            continue
        out.append(
            _Station(_unique(_ident(n.browse_path[-1].rpartition(":")[2], "eq", "E"), taken), n, variables)
        )
    return out


def _station_lines(st: _Station, x: float) -> list[str]:
    lines = [
        f"      - id: {_q(st.id)}",
        "        type: station",
        f"        operations: [{_q(st.id.lower())}]  # TODO: the operations this station does",
        f"        position: {{x: {x:g}, y: 0}}  # TODO: layout (metres)",
        f"        # from {'/'.join(st.node.browse_path)} ({st.node.node_id})",
    ]
    bound: list[str] = []
    extra: list[str] = []
    used: set[str] = set()
    taken = {"state", "model", "part_count", "cycle_time_s", "power_kw", "energy_kwh", "alarm"}
    for v in st.variables:
        ttype = _tag_type(v) or "float"
        short = v.browse_path[-1].rpartition(":")[2]
        desc = f"{v.data_type}{'[]' if (v.value_rank or -1) >= 1 else ''}" + (f", {v.unit}" if v.unit else "")
        std = next(
            (g for g, pat, types in _GUESSES if g not in used and ttype in types and pat.search(short)), None
        )
        if std is not None and (v.value_rank or -1) < 1:
            used.add(std)
            note = f"guess: {short!r} ({desc})"
            if std == "state" and ttype == "int":
                note += ": map its codes, e.g. map: {1: Running, 2: Idle, 3: Fault}, or preset: packml"
            bound.append(f"          {std}: {{node: {_q(v.node_id)}}}  # {note}")
            continue
        name = _unique(_ident(short, "tag", "tag"), taken)
        fields = [f"name: {name}", f"type: {ttype}", f"node: {_q(v.node_id)}"]
        if v.unit:
            fields.append(f"unit: {_q(v.unit)}")
        extra.append(f"          - {{{', '.join(fields)}}}  # {desc}")
    if "state" not in used:
        bound += _bits_state(st.variables)
    if bound:
        lines += ["        opcua:", *bound]
    if extra:
        lines += ["        extra_tags:", *extra]
    return lines


def _bits_state(variables: Sequence[BrowsedNode]) -> list[str]:
    """A state guessed from Boolean fault / running bits (``when`` rules), if the object has both."""
    bools = [v for v in variables if v.data_type == "Boolean"]
    fault = next((v for v in bools if re.search(r"fault|error|alarm", v.browse_path[-1], re.I)), None)
    run = next((v for v in bools if re.search(r"run|busy|auto", v.browse_path[-1], re.I)), None)
    if fault is None or run is None:
        return []
    return [
        "          state:  # guess: from Boolean bits, first match wins",
        "            when:",
        f"              - {{node: {_q(fault.node_id)}, value: Fault}}",
        f"              - {{node: {_q(run.node_id)}, value: Running}}",
        "            default: Idle",
    ]


def draft_plant(
    nodes: Sequence[BrowsedNode], endpoint: str, line_id: str = "L1", type_id: str | None = None
) -> str:
    """A plant file (YAML text) for the browsed ``nodes`` of ``endpoint``; deterministic."""
    stations = _stations(nodes, type_id)
    out = [
        f"# Drafted by `twin opcua draft` from {endpoint}.",
        "# Review every '# guess' and '# TODO': operations, models (routing, cycle times), layout.",
        f"# {len(stations)} station(s); tags bound by nsu= NodeIds; unbound standard tags are not mirrored.",
        f"id: {_q(_ident(line_id, 'eq', 'plant').lower() + '-plant')}",
        "lines:",
        f"  - id: {_q(_ident(line_id, 'eq', 'L1'))}",
        "    kind: mixed  # TODO: dedicated / mixed flow line (equipment in flow order) or cells",
        "    opcua:",
        f"      endpoint: {_q(endpoint)}",
        "      naming: explicit",
    ]
    if not stations:
        what = f"no instance of {type_id}" if type_id else "no object holding variables"
        raise MappingError(f"{endpoint}: {what} under the browse root: nothing to draft (try --root)")
    out.append("    equipment:")
    for i, st in enumerate(stations):
        out += _station_lines(st, i * 6.0)
    out += ["models: []  # TODO: product models and their routing (operation, cycle_s)", ""]
    return "\n".join(out)
