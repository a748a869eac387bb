"""Where a tag's value comes from on OPC UA (a NodeId or browse path, or ``when`` rules over other nodes),
how the value is transformed (array reduction, code maps, rules, scaling) and how it is sampled.

Pure data (pydantic v2), shared by a tag's definition (:class:`twin.model.TagDef`), a line's template and an
equipment's overrides; :mod:`twin.tagcheck` validates it, the OPC UA adapters resolve and apply it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from twin.strict import Strict

__all__ = [
    "SOURCE_FIELDS",
    "TEMPLATE_FIELDS",
    "ArrayReduce",
    "DeadbandType",
    "Rule",
    "Scale",
    "TagSource",
]

#: Placeholders a line's tag template may use in NodeIds and browse paths.
TEMPLATE_FIELDS = ("equipment", "line", "index")


class DeadbandType(StrEnum):
    """OPC UA data-change deadband (Part 4 / Part 8)."""

    ABSOLUTE = "absolute"
    PERCENT = "percent"


class ArrayReduce(StrEnum):
    """What to do with an array value: keep it, or reduce it to one number (or Boolean for any/all)."""

    KEEP = "keep"
    MAX = "max"
    MIN = "min"
    MEAN = "mean"
    SUM = "sum"
    ANY = "any"
    ALL = "all"
    FIRST = "first"


class Scale(Strict):
    """Linear scaling of a raw value: ``factor``/``offset``, or two ranges (raw counts -> engineering)."""

    factor: float | None = None
    offset: float = 0.0
    raw: tuple[float, float] | None = None
    eng: tuple[float, float] | None = None

    def linear(self) -> tuple[float, float]:
        """``(factor, offset)`` with ``value = raw * factor + offset``."""
        if self.raw is not None and self.eng is not None:
            (r0, r1), (e0, e1) = self.raw, self.eng
            f = (e1 - e0) / (r1 - r0)
            return f, e0 - r0 * f
        return (1.0 if self.factor is None else self.factor), self.offset


class Rule(Strict):
    """A rule of a derived state: if the value of the node it tests equals ``equals``, the tag is ``value``.

    The node is ``node`` (a NodeId) or ``browse_path`` (browse names from the Objects folder, as a tag's).
    Both may be omitted when ``bit`` is given: then bit ``bit`` (0 = least significant) of the tag's own
    node is tested. Rules are tried in order; the first that matches wins.
    """

    node: str | None = None
    browse_path: list[str] | None = None
    bit: int | None = Field(default=None, ge=0, le=63)
    equals: bool | int | str = True
    value: str = Field(min_length=1)

    @property
    def on_node(self) -> bool:
        """Whether the rule tests a node of its own (by NodeId or browse path), not the tag's node."""
        return self.node is not None or self.browse_path is not None


class TagSource(Strict):
    """Where a tag's value comes from on OPC UA, how it is transformed, and how it is sampled.

    ``node`` is a NodeId string (``nsu=<namespace uri>;s=...`` is preferred to ``ns=<index>;``: indexes
    change between servers and restarts); ``browse_path`` a list of browse names from the Objects folder,
    each optionally qualified as ``"<ns-index or uri>:Name"``. Transforms run in this order: ``array``
    reduction, ``map``/``preset`` (codes -> names), ``when`` rules (derived state, first match wins),
    ``scale``, unit conversion (node's EUInformation -> the tag's unit). A code neither the map nor the
    preset knows is stored ``uncertain`` with the raw value kept.
    """

    node: str | None = None
    browse_path: list[str] | None = None
    endpoint: str | None = None
    map: dict[int | str, str] | None = None
    preset: Literal["packml"] | None = None
    when: list[Rule] | None = None
    default: str | None = None
    scale: Scale | None = None
    array: ArrayReduce | None = None
    sampling_ms: float | None = Field(default=None, ge=0)
    deadband: float | None = Field(default=None, ge=0)
    deadband_type: DeadbandType = DeadbandType.ABSOLUTE
    queue_size: int | None = Field(default=None, ge=1)

    def has_transform(self) -> bool:
        """Whether any value transform is declared (a plain tag costs nothing extra on the hot path)."""
        return any(x is not None for x in (self.map, self.preset, self.when, self.scale, self.array))

    def located(self) -> bool:
        """Whether this source names a node (by NodeId, browse path, or only through ``when`` rules)."""
        return self.node is not None or bool(self.browse_path) or bool(self.when)


#: Fields of :class:`TagSource`; a tag definition, a template entry or an override sets any of them.
SOURCE_FIELDS = tuple(TagSource.model_fields)
