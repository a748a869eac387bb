"""YAML plant definitions -> :class:`twin.model.Plant`.

Every problem becomes one :class:`twin.errors.ConfigError` naming the file, the field path
(``lines[1].equipment[3].power_kw``) and what is wrong, so a user can fix it without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from twin.errors import ConfigError
from twin.model import PROCESSING_TYPES, EquipmentType, LineKind, Plant


def load_plant(path: str | Path) -> Plant:
    """Read and validate a plant definition file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "", f"cannot read file: {exc}") from None
    return parse_plant(text, source=str(p))


def parse_plant(text: str, source: str = "<string>") -> Plant:
    """Validate a plant definition given as YAML text; ``source`` names it in errors."""
    try:
        data = yaml.safe_load(text)
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
        err = exc.errors()[0]
        raise ConfigError(source, format_loc(err["loc"], data), _problem(err)) from None
    _fill_line_refs(plant)
    check_plant(plant, source)
    return plant


def format_loc(loc: Sequence[int | str], data: Any = None) -> str:
    """Render a pydantic location as a field path, e.g. ``lines[0].equipment[2].power_kw``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(err: Any) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "required field is missing"
    value = err.get("input")
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


def check_plant(plant: Plant, source: str) -> None:
    """Semantic checks pydantic cannot do: unique ids, references, eligibility, geometry."""

    def fail(field: str, problem: str) -> None:
        raise ConfigError(source, field, problem)

    line_ids = [line.id for line in plant.lines]
    eq_index: dict[str, str] = {}
    for li, line in enumerate(plant.lines):
        if line_ids.count(line.id) > 1:
            fail(f"lines[{li}].id", f"duplicate line id {line.id!r}")
        for ei, e in enumerate(line.equipment):
            path = f"lines[{li}].equipment[{ei}]"
            if e.id in eq_index:
                fail(f"{path}.id", f"duplicate equipment id {e.id!r} (first used at {eq_index[e.id]})")
            if e.id in line_ids or e.id == plant.id:
                fail(f"{path}.id", f"equipment id {e.id!r} clashes with a line or plant id")
            eq_index[e.id] = path
            if e.type in PROCESSING_TYPES and not e.operations:
                fail(f"{path}.operations", f"{e.type.value} {e.id!r} has no operations")
            if e.type == EquipmentType.BUFFER and e.capacity is None:
                fail(f"{path}.capacity", f"buffer {e.id!r} needs a capacity")
            if e.idle_power_kw > e.power_kw:
                fail(
                    f"{path}.idle_power_kw", f"idle power {e.idle_power_kw} kW exceeds rated {e.power_kw} kW"
                )
            if min(e.size.x, e.size.y, e.size.z) <= 0:
                fail(f"{path}.size", "every dimension must be > 0 m")
            tag_names = [t.name for t in e.tags()]
            for dup in _dups(tag_names):
                fail(f"{path}.extra_tags", f"tag {dup!r} is defined twice")
        if line.kind == LineKind.CELLS and not any(e.type == EquipmentType.CELL for e in line.equipment):
            fail(f"lines[{li}].kind", f"cell block {line.id!r} has no equipment of type cell")

    nodes = set(eq_index) | set(line_ids) | {plant.id}
    for i, edge in enumerate(plant.edges):
        for end in ("source", "target"):
            ref = getattr(edge, end)
            if ref not in nodes:
                fail(f"edges[{i}].{end}", f"unknown equipment or line {ref!r}")
        if edge.source == edge.target:
            fail(f"edges[{i}]", f"edge from {edge.source!r} to itself")

    model_ids = [m.id for m in plant.models]
    for mi, m in enumerate(plant.models):
        if model_ids.count(m.id) > 1:
            fail(f"models[{mi}].id", f"duplicate model id {m.id!r}")
        for si, step in enumerate(m.routing):
            path = f"models[{mi}].routing[{si}]"
            for ln in step.lines or []:
                if ln not in line_ids:
                    fail(f"{path}.lines", f"unknown line {ln!r}")
            for st in step.stations or []:
                if st not in eq_index:
                    fail(f"{path}.stations", f"unknown station {st!r}")
            if not plant.eligible(step):
                fail(
                    f"{path}.operation", f"no station can do operation {step.operation!r} for model {m.id!r}"
                )
    for ci, c in enumerate(plant.changeovers):
        for end, ref in (("from", c.from_model), ("to", c.to_model)):
            if ref not in model_ids:
                fail(f"changeovers[{ci}].{end}", f"unknown model {ref!r}")
    for model, qty in plant.demand.items():
        if model not in model_ids:
            fail(f"demand.{model}", f"unknown model {model!r} (known: {', '.join(model_ids) or 'none'})")
        if qty < 0:
            fail(f"demand.{model}", f"quantity must be >= 0 (got {qty})")
