"""The value change: what adapters produce, the store writes and feeds, and KPIs and history read.

A :class:`Change` is one tag of one piece of equipment taking a value at a source (PLC) time, with a
quality. It is a plain named tuple so that the ingest hot path pays no validation per notification; the
write paths also take the same five fields as a bare tuple (:data:`ChangeLike`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "BAD",
    "GOOD",
    "QUALITIES",
    "QUALITY_RANK",
    "STALE",
    "UNCERTAIN",
    "Change",
    "ChangeLike",
]

#: Qualities a change can carry (OPC UA status codes are folded into these four by the adapters).
GOOD, UNCERTAIN, STALE, BAD = "good", "uncertain", "stale", "bad"
QUALITIES = frozenset({GOOD, UNCERTAIN, BAD, STALE})
#: How bad a quality is (an equipment's quality is its worst tag's); unknown qualities rank as ``bad``.
QUALITY_RANK = {GOOD: 0, UNCERTAIN: 1, STALE: 2, BAD: 3}


class Change(NamedTuple):
    """One value change on the hot path (a plain tuple: no validation cost per notification)."""

    equipment: str
    tag: str
    value: Any
    quality: str
    source_ts: float


#: What the write paths take: a :class:`Change` or the same five fields as a plain tuple.
ChangeLike = Change | tuple[str, str, Any, str, float]
