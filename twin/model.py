"""Typed domain objects of the twin: plant, lines, equipment, product models, demand, live values, plans.

These are pure data (pydantic v2); nothing here talks to Redis, OPC UA or a renderer. A plant definition
is validated into a :class:`Plant` by :mod:`twin.config`; the store persists it; every other part reads it.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from twin.strict import Strict
from twin.tagsource import TagSource

__all__ = [
    "ANY_MODEL",
    "BUFFER_TAGS",
    "PROCESSING_TYPES",
    "SIM_NAMESPACE_URI",
    "STANDARD_TAGS",
    "STATE_CODES",
    "Calendar",
    "Changeover",
    "Edge",
    "EdgeKind",
    "EnergySettings",
    "Equipment",
    "EquipmentType",
    "Line",
    "LineKind",
    "Objective",
    "OpcUaEndpoint",
    "OperationStep",
    "Plan",
    "PlanAssignment",
    "Plant",
    "ProductModel",
    "Quality",
    "Shift",
    "StationState",
    "Strict",
    "TagDef",
    "TagType",
    "TagValue",
    "TariffPeriod",
    "Vec3",
    "Weekday",
]

#: OPC UA namespace URI of the simulated PLCs; a default tag mapping refers to it by URI, not by index.
SIM_NAMESPACE_URI = "urn:sdf-twin:sim"


class EquipmentType(StrEnum):
    """What a piece of equipment is."""

    STATION = "station"
    CELL = "cell"
    BUFFER = "buffer"
    CONVEYOR = "conveyor"
    AGV = "agv"


#: Equipment types that process cars (have a cycle time and a state machine).
PROCESSING_TYPES = frozenset({EquipmentType.STATION, EquipmentType.CELL})


class LineKind(StrEnum):
    """How a line is organised."""

    DEDICATED = "dedicated"  # built around one product model
    MIXED = "mixed"  # several models in sequence on one flow line
    CELLS = "cells"  # flexible cells, cars moved between them by AGVs


class StationState(StrEnum):
    """State machine of a processing station, as the PLC reports it."""

    IDLE = "Idle"
    RUNNING = "Running"
    BLOCKED = "Blocked"
    STARVED = "Starved"
    FAULT = "Fault"
    CHANGEOVER = "Changeover"
    OFF = "Off"


#: Integer code of each state, as the simulated PLCs expose it (an OPC UA enumeration).
STATE_CODES: dict[StationState, int] = {s: i for i, s in enumerate(StationState)}


class Quality(StrEnum):
    """Quality of a live value."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    STALE = "stale"


class EdgeKind(StrEnum):
    """Typed relationships between graph nodes."""

    FEEDS = "feeds"  # material flows from source to target
    PART_OF = "part_of"  # equipment -> line, line -> plant
    TRANSPORTS = "transports"  # a conveyor/AGV carries parts between source and target


class TagType(StrEnum):
    """Data type of a tag."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STRING = "string"
    ENUM = "enum"


class Vec3(Strict):
    """A 3D vector in metres (x along the floor, y across, z up)."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


class TagDef(TagSource):
    """One live value of a piece of equipment (name, type, unit, range) and its OPC UA source.

    With no node, browse path or ``when`` rules, the simulator's default node is used (on lines whose
    ``opcua.naming`` is ``simulator``, the default) or the tag is not mirrored (``naming: explicit``).
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: TagType = TagType.FLOAT
    unit: str | None = None
    min: float | None = None
    max: float | None = None

    def with_source(self, *sources: TagSource | None) -> TagDef:
        """This tag with the fields each source sets laid over it, in order (later sources win)."""
        upd: dict[str, Any] = {}
        for src in sources:
            if src is None:
                continue
            if src.located():  # a new location replaces the old one as a whole
                upd.update(node=None, browse_path=None, when=None)
            upd.update({f: getattr(src, f) for f in src.model_fields_set})
        return self.model_copy(update=upd) if upd else self


#: Tags every processing station carries (the simulator serves them; the adapter mirrors them).
STANDARD_TAGS: tuple[TagDef, ...] = (
    TagDef(name="state", type=TagType.ENUM),
    TagDef(name="model", type=TagType.STRING),
    TagDef(name="part_count", type=TagType.INT, min=0),
    TagDef(name="cycle_time_s", type=TagType.FLOAT, unit="s", min=0),
    TagDef(name="power_kw", type=TagType.FLOAT, unit="kW", min=0),
    TagDef(name="energy_kwh", type=TagType.FLOAT, unit="kWh", min=0),
    TagDef(name="alarm", type=TagType.STRING),
)

#: Tags a buffer carries.
BUFFER_TAGS: tuple[TagDef, ...] = (
    TagDef(name="level", type=TagType.INT, min=0),
    TagDef(name="state", type=TagType.ENUM),
)


class Equipment(Strict):
    """A station, cell, buffer, conveyor or AGV, with its pose, size and ratings."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
    type: EquipmentType = EquipmentType.STATION
    name: str | None = None
    operations: list[str] = Field(default_factory=list)
    position: Vec3 = Field(default_factory=Vec3)
    size: Vec3 = Field(default_factory=lambda: Vec3(x=4.0, y=4.0, z=3.0))
    yaw_deg: float = 0.0
    power_kw: float = Field(default=0.0, ge=0)
    idle_power_kw: float = Field(default=0.0, ge=0)
    capacity: int | None = Field(default=None, ge=1)
    mtbf_s: float | None = Field(default=None, gt=0)
    mttr_s: float | None = Field(default=None, gt=0)
    extra_tags: list[TagDef] = Field(default_factory=list)
    #: Where tags (standard or extra) come from: tag name -> source; overrides the line's template.
    #: ``null`` leaves a tag unbound (absent), whatever the template or the line's naming says.
    opcua: dict[str, TagSource | None] = Field(default_factory=dict)
    #: Filled by :mod:`twin.config`: the id of the line this equipment belongs to.
    line: str = ""

    def tags(self) -> list[TagDef]:
        """All tags of this equipment: the standard ones for its type, then its extra tags.

        An extra tag with a standard tag's name redefines it (in place): its fields are laid over the
        standard definition, so ``{name: state, node: ...}`` binds the standard state to a node.
        """
        base = standard_tags(self.type)
        names = {t.name for t in base}
        extra = {t.name: t for t in self.extra_tags if t.name in names}
        merged = [_overlay(t, extra[t.name]) if t.name in extra else t for t in base]
        return [*merged, *(t for t in self.extra_tags if t.name not in names)]


def standard_tags(kind: EquipmentType) -> tuple[TagDef, ...]:
    """The tags every piece of equipment of this type carries."""
    if kind in PROCESSING_TYPES:
        return STANDARD_TAGS
    if kind == EquipmentType.BUFFER:
        return BUFFER_TAGS
    return (TagDef(name="state", type=TagType.ENUM),)


class Naming(StrEnum):
    """How tags without a declared source are found on a line's PLC."""

    SIMULATOR = "simulator"  # the simulator's NodeId ``nsu=<namespace_uri>;s=<equipment>.<tag>``
    EXPLICIT = "explicit"  # not at all: tags without a source are simply absent from the twin


class OpcUaEndpoint(Strict):
    """Where a line's PLC (real or simulated) is reached, and how its tags are named there.

    ``template`` binds tags of every piece of equipment of the line at once (tag name -> source, with
    ``{equipment}``, ``{line}`` and ``{index}`` (1-based position in the line) in NodeIds, browse paths and
    rule nodes); an equipment's own ``opcua`` entries override it.
    """

    endpoint: str = Field(min_length=1)
    namespace_uri: str = SIM_NAMESPACE_URI
    naming: Naming = Naming.SIMULATOR
    template: dict[str, TagSource] = Field(default_factory=dict)


class Line(Strict):
    """A production line or a block of cells. Equipment of a flow line is listed in flow order."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
    name: str | None = None
    kind: LineKind = LineKind.MIXED
    equipment: list[Equipment] = Field(min_length=1)
    opcua: OpcUaEndpoint | None = None


class Edge(Strict):
    """An explicit relationship; sequential ``feeds`` inside a flow line are implied, not listed."""

    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    kind: EdgeKind = EdgeKind.FEEDS


class OperationStep(Strict):
    """One step of a model's routing: an operation, its cycle time, and where it may run.

    Eligible equipment is the processing equipment whose ``operations`` include ``operation``, restricted to
    ``lines`` (if given) and to ``stations`` (if given).
    """

    operation: str = Field(min_length=1)
    cycle_s: float = Field(gt=0)
    lines: list[str] | None = None
    stations: list[str] | None = None


class ProductModel(Strict):
    """A car model: its routing through the plant and the energy it needs beyond stations' idle draw."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
    name: str | None = None
    routing: list[OperationStep] = Field(min_length=1)


#: A changeover's ``from`` / ``to`` that matches every model.
ANY_MODEL = "*"


class Changeover(Strict):
    """Time to switch a station from one model to another (sequence-dependent).

    ``operations`` limits it to the stations that run one of them (a paint booth's colour change, a body
    shop's framing jig); without it every station pays it. ``from`` / ``to`` may be ``"*"`` (any model).
    """

    from_model: str = Field(alias="from")
    to_model: str = Field(alias="to")
    seconds: float = Field(ge=0)
    operations: list[str] | None = None

    def matches(self, from_model: str, to_model: str) -> bool:
        """True if this changeover applies to a switch from ``from_model`` to ``to_model``."""
        return self.from_model in (from_model, ANY_MODEL) and self.to_model in (to_model, ANY_MODEL)


class Shift(Strict):
    """A working shift, as clock times of day (``HH:MM``); a shift may cross midnight."""

    name: str
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class Calendar(Strict):
    """The shift calendar and planning horizon."""

    shifts: list[Shift] = Field(default_factory=lambda: [Shift(name="day", start="06:00", end="14:00")])
    horizon_hours: float = Field(default=24.0, gt=0)


class Weekday(StrEnum):
    """A day of the week, as a tariff names it."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class Objective(StrEnum):
    """What a re-plan minimises after unmet demand: energy cost under the tariff, kWh, or finishing time."""

    COST = "cost"
    ENERGY = "energy"
    TIME = "time"


#: A clock hour a tariff period starts at (0-23) and the hour it ends at (1-24; not after the start: the
#: period runs over midnight, e.g. ``[22, 8]``).
_StartHour = Annotated[int, Field(ge=0, le=23)]
_EndHour = Annotated[int, Field(ge=0, le=24)]


class TariffPeriod(Strict):
    """One time-of-use period: a price per kWh on some weekdays, in some clock hours of the plant's clock
    (the shift calendar's). Several entries may share a name (and then their price)."""

    name: str = Field(min_length=1, max_length=40)
    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1)
    hours: list[tuple[_StartHour, _EndHour]] = Field(min_length=1)
    price_per_kwh: float = Field(ge=0)


class EnergySettings(Strict):
    """The plant's utility contract: contract (peak) demand, time-of-use tariff, demand charge, grid CO2.

    ``contract_kw`` is the default power cap of every re-plan; ``objective`` its default objective.
    """

    contract_kw: float | None = Field(default=None, gt=0)
    tariff: list[TariffPeriod] = Field(default_factory=list)
    demand_charge_per_kw: float = Field(default=0.0, ge=0)
    co2_kg_per_kwh: float = Field(default=0.0, ge=0)
    currency: str = Field(default="KRW", min_length=1, max_length=8)
    objective: Objective = Objective.ENERGY


class Plant(Strict):
    """A whole plant definition."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
    name: str | None = None
    lines: list[Line] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)
    models: list[ProductModel] = Field(default_factory=list)
    changeovers: list[Changeover] = Field(default_factory=list)
    default_changeover_s: float = Field(default=0.0, ge=0)
    calendar: Calendar = Field(default_factory=Calendar)
    demand: dict[str, int] = Field(default_factory=dict)
    energy: EnergySettings | None = None

    def equipment(self) -> list[Equipment]:
        """Every piece of equipment of every line, in config order."""
        return [e for line in self.lines for e in line.equipment]

    def equipment_by_id(self) -> dict[str, Equipment]:
        """Equipment keyed by id."""
        return {e.id: e for e in self.equipment()}

    def line_by_id(self) -> dict[str, Line]:
        """Lines keyed by id."""
        return {line.id: line for line in self.lines}

    def model_by_id(self) -> dict[str, ProductModel]:
        """Product models keyed by id."""
        return {m.id: m for m in self.models}

    def changeover_s(self, from_model: str | None, to_model: str) -> float:
        """Changeover time of a line between two models: the longest of its stations' (0 for the same
        model or from nothing; ``default_changeover_s`` for a pair no changeover lists)."""
        if from_model is None or from_model == to_model:
            return 0.0
        listed = [c.seconds for c in self.changeovers if c.matches(from_model, to_model)]
        return max(listed) if listed else self.default_changeover_s

    def station_changeover_s(self, equipment: Equipment, from_model: str | None, to_model: str) -> float:
        """Changeover time of one station: the longest listed changeover of the pair that applies to its
        operations; 0 if the pair is listed only for other operations; else ``default_changeover_s``."""
        if from_model is None or from_model == to_model:
            return 0.0
        listed = [c for c in self.changeovers if c.matches(from_model, to_model)]
        if not listed:
            return self.default_changeover_s
        ops = set(equipment.operations)
        applies = (c.seconds for c in listed if c.operations is None or ops & set(c.operations))
        return max(applies, default=0.0)

    def eligible(self, step: OperationStep) -> list[Equipment]:
        """Processing equipment that can run ``step``, in config order."""
        out: list[Equipment] = []
        for line in self.lines:
            if step.lines is not None and line.id not in step.lines:
                continue
            for e in line.equipment:
                if e.type not in PROCESSING_TYPES or step.operation not in e.operations:
                    continue
                if step.stations is not None and e.id not in step.stations:
                    continue
                out.append(e)
        return out

    def all_edges(self) -> list[Edge]:
        """Explicit edges plus the implied ones: sequential ``feeds`` in flow lines and ``part_of``."""
        out: list[Edge] = []
        for line in self.lines:
            for e in line.equipment:
                out.append(Edge(source=e.id, target=line.id, kind=EdgeKind.PART_OF))
            out.append(Edge(source=line.id, target=self.id, kind=EdgeKind.PART_OF))
            if line.kind != LineKind.CELLS:
                eq = line.equipment
                for a, b in pairwise(eq):
                    out.append(Edge(source=a.id, target=b.id, kind=EdgeKind.FEEDS))
        out.extend(self.edges)
        return out


def _overlay(tag: TagDef, over: TagDef) -> TagDef:
    """``tag`` with the fields ``over`` sets (its location as a whole)."""
    upd = {f: getattr(over, f) for f in over.model_fields_set if f != "name"}
    if over.located():
        upd = {"node": None, "browse_path": None, "when": None, **upd}
    return tag.model_copy(update=upd)


class TagValue(BaseModel):
    """A live value with its quality and timestamps (seconds since the epoch)."""

    model_config = ConfigDict(frozen=True)

    equipment: str
    tag: str
    value: Any
    quality: Quality = Quality.GOOD
    source_ts: float
    server_ts: float | None = None


class PlanAssignment(BaseModel):
    """One scheduled piece of work: a lot of a model on a resource (line, station or cell)."""

    resource: str
    model: str
    quantity: int
    start_s: float
    end_s: float
    lot: str = ""
    operation: str = ""


class Plan(BaseModel):
    """An immutable, versioned production plan."""

    version: int = 0
    created_at: float = 0.0
    reason: str = ""
    demand: dict[str, int] = Field(default_factory=dict)
    assignments: list[PlanAssignment] = Field(default_factory=list)
    kpis: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
