"""Redis key layout of the twin (the encoding of what the keys hold is :mod:`twin.store.encoding`).

Every key of a plant carries the hash tag ``{<plant>}`` (graph, plans, demand, audit, change feed: what
must change atomically shares a slot) or ``{<plant>:<line>}`` (a line's live hashes, so lines spread over
a Redis Cluster). Nothing needs a multi-slot transaction: a publish cycle writes its live hashes and one
change-stream entry in one Lua script call on a single node, or one *pipeline*, which a cluster client splits
per node.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SCHEMA_VERSION", "Keys"]

#: Bumped when the key layout or encodings change; a store refuses data of another schema.
SCHEMA_VERSION = 1


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

    @property
    def tokens(self) -> str:
        return f"{self._p}:tokens"

    @property
    def mapping_problems(self) -> str:
        return f"{self._p}:mapping:problems"

    def live(self, line: str, equipment: str) -> str:
        return f"sdf:{{{self.plant_id}:{line}}}:live:{equipment}"

    def live_pattern(self) -> str:
        return f"sdf:{{{self.plant_id}:*}}:live:*"
