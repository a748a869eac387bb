"""YAML plant definitions -> :class:`twin.model.Plant`.

Every problem becomes one :class:`twin.errors.ConfigError` naming the file, the field path
(``lines[1].equipment[3].power_kw``) and what is wrong, so a user can fix it without a traceback.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pydantic
import yaml

from twin.errors import ConfigError
from twin.model import (
    ANY_MODEL,
    PROCESSING_TYPES,
    EdgeKind,
    Equipment,
    EquipmentType,
    LineKind,
    Plant,
)
from twin.tagcheck import (
    ENDPOINT_RE,
    NODE_ID_RE,
    Fail,
    check_endpoint,
    check_overrides,
    check_tag,
    check_template,
)
from twin.tariff import check_energy

__all__ = [
    "ENDPOINT_RE",
    "NODE_ID_RE",
    "check_plant",
    "format_loc",
    "load_plant",
    "parse_plant",
    "plant_from_data",
]

#: What an id field accepts (mirrors the pattern in :mod:`twin.model`), said in words.
_ID_HINT = "use letters, digits, '_' and '-' only, starting with a letter or digit"
_HHMM_HINT = 'expected a clock time "HH:MM" (00:00-23:59); quote it, since YAML reads 14:00 as a number'


#: libyaml's parser when PyYAML was built with it (much faster on big generated plants), else pure Python.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A safe loader that refuses duplicate mapping keys (plain PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            # scalar keys compare by their resolved tag and text (cheap: no second construction)
            if isinstance(key_node, yaml.ScalarNode):
                key: Any = (key_node.tag, key_node.value)
            else:
                key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
            except TypeError:  # unhashable key: let PyYAML report it
                continue
            if dup:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key[1] if isinstance(key_node, yaml.ScalarNode) else key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def load_plant(path: str | Path) -> Plant:
    """Read and validate a plant definition file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(p), "", "is a directory, not a plant definition file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), "", f"not UTF-8 text (byte {exc.start}): save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(str(p), "", f"cannot read file: {exc}") from None
    return parse_plant(text, source=str(p))


def parse_plant(text: str, source: str = "<string>") -> Plant:
    """Validate a plant definition given as YAML text; ``source`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, where, f"invalid YAML: {problem}") from None
    return plant_from_data(data, source)


def plant_from_data(data: Any, source: str = "<data>") -> Plant:
    """Validate already-parsed data (a mapping) into a :class:`Plant`."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise ConfigError(
            source, "", f"expected a mapping with 'id' and 'lines' at the top level, got {kind}"
        )
    try:
        plant = Plant.model_validate(data)
    except pydantic.ValidationError as exc:
        err = _pick_error(exc.errors())
        raise ConfigError(source, format_loc(err["loc"], data), _problem(err, data)) from None
    _fill_line_refs(plant)
    check_plant(plant, source)
    return plant


def _pick_error(errors: Sequence[Any]) -> Any:
    """The error to report: the first, except that a misspelt field beats the "missing" it causes.

    A typo such as ``endpiont:`` gives both "endpoint missing" and "endpiont unknown"; the unknown field is
    the one the user has to fix, so it is reported, with the missing sibling as a suggestion.
    """
    first = errors[0]
    if first.get("type") != "missing":
        return first
    parent = tuple(first["loc"][:-1])
    missing = [e["loc"][-1] for e in errors if e.get("type") == "missing" and tuple(e["loc"][:-1]) == parent]
    for e in errors:
        if e.get("type") == "extra_forbidden" and tuple(e["loc"][:-1]) == parent:
            near = difflib.get_close_matches(str(e["loc"][-1]), [str(m) for m in missing], n=1)
            return {**e, "suggest": near[0] if near else None}
    return first


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_loc(loc: Sequence[int | str], data: Any = None) -> str:
    """Render a pydantic location as a field path, e.g. ``lines[0].equipment[2].power_kw``."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad mapping key: the key itself is the path
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(str(part)):  # "", "a b", "x.y", a newline: quoted, so the path reads
            out += f"[{str(part)!r}]"  # unambiguously and the error stays on one line
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(err: Any, data: Any = None) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    loc = tuple(err.get("loc", ()))
    last = next((part for part in reversed(loc) if isinstance(part, str) and part != "[key]"), "")
    value = err.get("input")
    if kind == "extra_forbidden":
        if err.get("suggest"):
            return f"unknown field (did you mean {err['suggest']!r}?)"
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "required field is missing"
    if "[key]" in loc:
        return f"keys here must be ids (text), got {value!r}"
    if last in {"start", "end"} and "shifts" in loc:
        return f"{_HHMM_HINT} (got {value!r})"
    if kind == "string_type" and isinstance(value, bool | int | float | datetime.date):
        # YAML 1.1 turns unquoted yes/no/on/off, numbers and dates into non-strings
        return f"expected text, but YAML read {value!r} ({type(value).__name__}): put it in quotes"
    if kind == "string_pattern_mismatch":
        if last == "name" and "extra_tags" in loc:
            return (
                f"tag names are identifiers: letters, digits and '_', not starting with a digit ({value!r})"
            )
        if last == "id":
            return f"invalid id {value!r}: {_ID_HINT}"
    if kind in {"greater_than_equal", "greater_than"} and isinstance(value, float) and math.isnan(value):
        return "must be a number, not NaN"
    if kind not in {"missing"} and not isinstance(value, dict | list):
        return f"{msg} (got {value!r})"
    return msg


def _fill_line_refs(plant: Plant) -> None:
    for line in plant.lines:
        for e in line.equipment:
            e.line = line.id


def _dups(ids: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for i in ids:
        if i in seen and i not in dup:
            dup.append(i)
        seen.add(i)
    return dup


def _check_numbers(obj: Any, path: str, fail: Fail) -> None:
    """Every float field of ``obj`` (recursively into vectors) is finite: no NaN or infinity."""
    for name, value in obj:
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"{path}.{name}", f"must be a finite number (got {value})")
        elif hasattr(value, "model_fields") and hasattr(value, "__iter__"):
            _check_numbers(value, f"{path}.{name}", fail)


def _hhmm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def check_plant(plant: Plant, source: str) -> None:
    """Semantic checks pydantic cannot do: unique ids, references, eligibility, geometry, addresses.

    The first problem found raises :class:`ConfigError`; the checks run in file order (lines, edges,
    models, changeovers, calendar, demand, energy), so the error names the first bad field a reader meets.
    """

    def fail(field: str, problem: str) -> NoReturn:
        raise ConfigError(source, field, problem)

    eq_index = _check_lines(plant, fail)
    line_ids = [line.id for line in plant.lines]
    _check_edges(plant, set(eq_index) | set(line_ids) | {plant.id}, fail)
    model_ids = _check_models(plant, eq_index, fail)
    _check_changeovers(plant, model_ids, fail)
    _check_calendar(plant, fail)
    _check_demand(plant, model_ids, fail)
    if plant.energy is not None:
        check_energy(plant.energy, fail)


def _check_lines(plant: Plant, fail: Fail) -> dict[str, str]:
    """Unique line and equipment ids, each piece of equipment, endpoints; returns equipment id -> path."""
    line_ids = [line.id for line in plant.lines]
    eq_index: dict[str, str] = {}
    for li, line in enumerate(plant.lines):
        if line.id in line_ids[:li]:
            fail(
                f"lines[{li}].id",
                f"duplicate line id {line.id!r} (first used at lines[{line_ids.index(line.id)}])",
            )
        for ei, e in enumerate(line.equipment):
            path = f"lines[{li}].equipment[{ei}]"
            if e.id in eq_index:
                fail(f"{path}.id", f"duplicate equipment id {e.id!r} (first used at {eq_index[e.id]})")
            if e.id in line_ids or e.id == plant.id:
                fail(f"{path}.id", f"equipment id {e.id!r} clashes with a line or plant id")
            eq_index[e.id] = path
            _check_equipment(e, path, fail)
        if line.opcua is not None:
            check_endpoint(line.opcua.endpoint, f"lines[{li}].opcua.endpoint", fail)
            check_template(line, f"lines[{li}].opcua.template", fail)
        if line.kind == LineKind.CELLS and not any(e.type == EquipmentType.CELL for e in line.equipment):
            fail(f"lines[{li}].kind", f"cell block {line.id!r} has no equipment of type cell")
    return eq_index


def _check_equipment(e: Equipment, path: str, fail: Fail) -> None:
    """One piece of equipment: numbers, operations, fault rates, capacity, power, size, tags."""
    _check_numbers(e, path, fail)
    if e.type in PROCESSING_TYPES and not e.operations:
        fail(f"{path}.operations", f"{e.type.value} {e.id!r} has no operations")
    if e.type not in PROCESSING_TYPES and e.operations:
        fail(
            f"{path}.operations",
            f"{e.type.value} {e.id!r} cannot do operations (only stations and cells process cars)",
        )
    for dup in _dups(e.operations):
        fail(f"{path}.operations", f"operation {dup!r} is listed twice")
    if (e.mtbf_s is None) != (e.mttr_s is None):
        have, need = ("mtbf_s", "mttr_s") if e.mttr_s is None else ("mttr_s", "mtbf_s")
        fail(f"{path}.{need}", f"{have} is set, so {need} is needed too (faults need both rates)")
    if e.type == EquipmentType.BUFFER and e.capacity is None:
        fail(f"{path}.capacity", f"buffer {e.id!r} needs a capacity")
    if e.idle_power_kw > e.power_kw:
        fail(f"{path}.idle_power_kw", f"idle power {e.idle_power_kw} kW exceeds rated {e.power_kw} kW")
    if min(e.size.x, e.size.y, e.size.z) <= 0:
        fail(f"{path}.size", "every dimension must be > 0 m")
    for dup in _dups(t.name for t in e.extra_tags):
        fail(f"{path}.extra_tags", f"tag {dup!r} is defined twice")
    for ti, tag in enumerate(e.extra_tags):
        check_tag(tag, f"{path}.extra_tags[{ti}]", fail)
    check_overrides(e, path, fail)


def _check_edges(plant: Plant, nodes: set[str], fail: Fail) -> None:
    """Edges join known nodes, not a node to itself; transports start at a carrier; no duplicates."""
    seen_edges: dict[tuple[str, str, str], int] = {}
    eq_by_id = plant.equipment_by_id()
    for i, edge in enumerate(plant.edges):
        for end in ("source", "target"):
            ref = getattr(edge, end)
            if ref not in nodes:
                fail(f"edges[{i}].{end}", f"unknown equipment or line {ref!r}")
        if edge.source == edge.target:
            fail(f"edges[{i}]", f"edge from {edge.source!r} to itself")
        if edge.kind == EdgeKind.TRANSPORTS:
            src = eq_by_id.get(edge.source)
            if src is None or src.type not in (EquipmentType.AGV, EquipmentType.CONVEYOR):
                fail(
                    f"edges[{i}].source", f"transports edges start at an AGV or conveyor, not {edge.source!r}"
                )
        first = seen_edges.setdefault((edge.source, edge.kind.value, edge.target), i)
        if first != i:
            fail(
                f"edges[{i}]",
                f"duplicate {edge.kind.value} edge {edge.source!r} -> {edge.target!r} (edges[{first}])",
            )


def _check_models(plant: Plant, eq_index: dict[str, str], fail: Fail) -> list[str]:
    """Unique model ids; every routing step names known lines and stations and can be done somewhere."""
    line_ids = [line.id for line in plant.lines]
    eq_by_id = plant.equipment_by_id()
    model_ids = [m.id for m in plant.models]
    for mi, m in enumerate(plant.models):
        if m.id in model_ids[:mi]:
            fail(f"models[{mi}].id", f"duplicate model id {m.id!r}")
        for si, step in enumerate(m.routing):
            path = f"models[{mi}].routing[{si}]"
            for ln in step.lines or []:
                if ln not in line_ids:
                    fail(f"{path}.lines", f"unknown line {ln!r}")
            if not math.isfinite(step.cycle_s):
                fail(f"{path}.cycle_s", f"must be a finite number (got {step.cycle_s})")
            for st in step.stations or []:
                if st not in eq_index:
                    fail(f"{path}.stations", f"unknown station {st!r}")
                kind = eq_by_id[st].type
                if kind not in PROCESSING_TYPES:
                    fail(f"{path}.stations", f"{st!r} is a {kind.value}, not a station or cell")
            if not plant.eligible(step):
                fail(
                    f"{path}.operation", f"no station can do operation {step.operation!r} for model {m.id!r}"
                )
    return model_ids


def _check_changeovers(plant: Plant, model_ids: list[str], fail: Fail) -> None:
    """Changeovers between known (or ``*``), different models at known operations, each pair and
    operation set once; the default is finite."""
    pairs: dict[tuple[str, str, tuple[str, ...] | None], int] = {}
    known_ops = {op for e in plant.equipment() for op in e.operations}
    for ci, c in enumerate(plant.changeovers):
        for end, ref in (("from", c.from_model), ("to", c.to_model)):
            if ref not in model_ids and ref != ANY_MODEL:
                fail(f"changeovers[{ci}].{end}", f"unknown model {ref!r}")
        for oi, op in enumerate(c.operations or []):
            if op not in known_ops:
                fail(f"changeovers[{ci}].operations[{oi}]", f"no station runs operation {op!r}")
        if c.operations is not None and not c.operations:
            fail(f"changeovers[{ci}].operations", "must name at least one operation (leave it out for all)")
        if c.from_model == c.to_model and c.from_model != ANY_MODEL:
            fail(f"changeovers[{ci}]", f"changeover from {c.from_model!r} to itself (it is always 0 s)")
        if not math.isfinite(c.seconds):
            fail(f"changeovers[{ci}].seconds", f"must be a finite number (got {c.seconds})")
        key = (c.from_model, c.to_model, tuple(sorted(c.operations)) if c.operations is not None else None)
        if key in pairs:
            fail(
                f"changeovers[{ci}]",
                f"changeover {c.from_model!r} -> {c.to_model!r} is already given at "
                f"changeovers[{pairs[key]}]",
            )
        pairs[key] = ci
    if not math.isfinite(plant.default_changeover_s):
        fail("default_changeover_s", f"must be a finite number (got {plant.default_changeover_s})")


def _check_calendar(plant: Plant, fail: Fail) -> None:
    """A finite horizon; shifts with unique names that do not start and end at the same time."""
    if not math.isfinite(plant.calendar.horizon_hours):
        fail("calendar.horizon_hours", f"must be a finite number (got {plant.calendar.horizon_hours})")
    shift_names = [s.name for s in plant.calendar.shifts]
    for si, shift in enumerate(plant.calendar.shifts):
        if shift.name in shift_names[:si]:
            fail(f"calendar.shifts[{si}].name", f"duplicate shift name {shift.name!r}")
        if _hhmm(shift.start) == _hhmm(shift.end):
            fail(f"calendar.shifts[{si}].end", f"shift {shift.name!r} starts and ends at {shift.start}")


def _check_demand(plant: Plant, model_ids: list[str], fail: Fail) -> None:
    """Demand for known models only, never negative."""
    for model, qty in plant.demand.items():
        if model not in model_ids:
            fail(f"demand.{model}", f"unknown model {model!r} (known: {', '.join(model_ids) or 'none'})")
        if qty < 0:
            fail(f"demand.{model}", f"quantity must be >= 0 (got {qty})")
