"""Redis key layout of the twin, and the encoding of live values and change-stream entries.

Every key of a plant carries the hash tag ``{<plant>}`` (graph, plans, demand, audit, change feed: what
must change atomically shares a slot) or ``{<plant>:<line>}`` (a line's live hashes, so lines spread over
a Redis Cluster). Nothing needs a multi-slot transaction: a publish cycle writes its live hashes and one
change-stream entry in one Lua script call on a single node, or one *pipeline*, which a cluster client splits
per node.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

#: Bumped when the key layout or encodings change; a store refuses data of another schema.
SCHEMA_VERSION = 1


class Change(NamedTuple):
    """One value change on the hot path (a plain tuple: no validation cost per notification)."""

    equipment: str
    tag: str
    value: Any
    quality: str
    source_ts: float


#: What the write paths take: a :class:`Change` or the same five fields as a plain tuple.
ChangeLike = Change | tuple[str, str, Any, str, float]


@dataclass(frozen=True)
class Keys:
    """Key names for one plant."""

    plant_id: str

    @property
    def _p(self) -> str:
        return f"sdf:{{{self.plant_id}}}"

    @property
    def meta(self) -> str:
        return f"{self._p}:meta"

    @property
    def plant(self) -> str:
        return f"{self._p}:plant"

    @property
    def nodes(self) -> str:
        return f"{self._p}:nodes"

    @property
    def edges(self) -> str:
        return f"{self._p}:edges"

    @property
    def changes(self) -> str:
        return f"{self._p}:changes"

    @property
    def demand(self) -> str:
        return f"{self._p}:demand"

    @property
    def demand_events(self) -> str:
        return f"{self._p}:demand:events"

    @property
    def plans(self) -> str:
        return f"{self._p}:plans"

    @property
    def plan_counter(self) -> str:
        return f"{self._p}:plan:counter"

    @property
    def plan_current(self) -> str:
        return f"{self._p}:plan:current"

    def plan(self, version: int) -> str:
        return f"{self._p}:plan:{version}"

    @property
    def audit(self) -> str:
        return f"{self._p}:audit"

    @property
    def writeback(self) -> str:
        return f"{self._p}:writeback"

    @property
    def time_scale(self) -> str:
        return f"{self._p}:time_scale"

    def live(self, line: str, equipment: str) -> str:
        return f"sdf:{{{self.plant_id}:{line}}}:live:{equipment}"

    def live_pattern(self) -> str:
        return f"sdf:{{{self.plant_id}:*}}:live:*"


def encode_value(value: Any, quality: str, source_ts: float, server_ts: float) -> str:
    """A live hash field: ``[value, quality, source_ts, server_ts]`` as compact JSON."""
    return json.dumps([value, quality, source_ts, server_ts], separators=(",", ":"), allow_nan=False)


def decode_value(raw: str | bytes) -> tuple[Any, str, float, float]:
    """Inverse of :func:`encode_value`."""
    v, q, ts, sts = json.loads(raw)
    return v, str(q), float(ts), float(sts)


def encode_change(
    equipment: str, tag: str, value: Any, quality: str, source_ts: float, server_ts: float
) -> tuple[str, str]:
    """One change as ``(live hash field, change-stream element)``: :func:`encode_value`'s output, and one
    element of :func:`encode_changes`'s list. A non-finite float is stored as ``null`` with quality ``bad``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        value, quality = None, "bad"
    element = json.dumps([equipment, tag, value, quality, source_ts], separators=(",", ":"), allow_nan=False)
    return encode_value(value, quality, source_ts, server_ts), element


def join_change_elements(elements: list[str]) -> str:
    """A change-stream entry's payload from :func:`encode_change` elements (what :func:`encode_changes`
    gives for the same changes)."""
    return f"[{','.join(elements)}]"


def encode_changes(changes: list[Change] | list[tuple[str, str, Any, str, float]]) -> str:
    """A change-stream entry's payload: a JSON list of ``[equipment, tag, value, quality, source_ts]``."""
    return json.dumps(changes, separators=(",", ":"), allow_nan=False)


def decode_changes(raw: str | bytes) -> list[Change]:
    """Inverse of :func:`encode_changes`."""
    return [Change(*c) for c in json.loads(raw)]
