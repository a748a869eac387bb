"""What the store's commands send and how their replies are read, shared by the sync and async store.

The stores only move bytes (a client call, a pipeline, a script); the fields an audit entry or a demand
event holds, the value of the write-back switch and the shape of change-stream replies are defined here
once, so the two stores cannot drift apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from twin.changes import Change
from twin.errors import ValidationError
from twin.store.encoding import decode_changes

__all__ = [
    "AUDIT_MAXLEN",
    "DEFAULT_STREAM_MAXLEN",
    "DEMAND_EVENTS_MAXLEN",
    "WRITEBACK_OFF",
    "WRITEBACK_ON",
    "ChangeEntry",
    "MappingProblemRow",
    "audit_fields",
    "decode_audit",
    "decode_entries",
    "decode_mapping_problems",
    "decode_time_scale",
    "decode_xread",
    "demand_event_fields",
    "mapping_problem_writes",
    "parse_quantity",
    "queue_live_writes",
    "queue_mapping_problems",
    "stream_info",
    "writeback_enabled",
]

#: Default cap of the change stream (approximate, ``MAXLEN ~``); see README "History retention".
DEFAULT_STREAM_MAXLEN = 200_000
#: Approximate caps (``MAXLEN ~``) of the audit stream and the demand-event stream.
AUDIT_MAXLEN = 100_000
DEMAND_EVENTS_MAXLEN = 10_000
#: Values of the write-back kill switch key (absent: on).
WRITEBACK_ON, WRITEBACK_OFF = "on", "off"

#: One change-stream entry as the stores return it: ``(id, source, changes)``.
ChangeEntry = tuple[str, str, list[Change]]


# ----------------------------------------------------------------- change stream
def queue_live_writes(
    pipe: Any, per_key: Mapping[str, Mapping[str, str]], stream: str, maxlen: int, source: str, data: str
) -> None:
    """Queue one write (:func:`~twin.store.encoding.encode_batch`'s output) on a non-transactional
    pipeline, sync or asyncio (queuing is synchronous in both): ``HSET`` per live hash, then the ``XADD``
    whose id is the pipeline's last reply."""
    for key, mapping in per_key.items():
        pipe.hset(key, mapping=mapping)
    pipe.xadd(stream, {"src": source, "d": data}, maxlen=maxlen, approximate=True)


def decode_entries(entries: Iterable[tuple[str, Mapping[str, str]]]) -> list[ChangeEntry]:
    """XRANGE / XREVRANGE entries of the change stream as ``(id, source, changes)``."""
    return [(sid, f.get("src", ""), decode_changes(f["d"])) for sid, f in entries]


def decode_xread(res: Sequence[Any] | None) -> list[ChangeEntry]:
    """An XREAD reply on the change stream (``None`` when a block timed out) as ``(id, source, changes)``."""
    return [entry for _stream, entries in res or [] for entry in decode_entries(entries)]


def stream_info(length: int, first: list[Any], last: list[Any], maxlen: int) -> dict[str, Any]:
    """Length, first and last id (``None`` when empty) and cap, from XLEN and one-entry XRANGE/XREVRANGE."""
    return {
        "length": int(length),
        "first_id": first[0][0] if first else None,
        "last_id": last[0][0] if last else None,
        "maxlen": maxlen,
    }


# ----------------------------------------------------------------- audit and write-back switch
def audit_fields(
    actor: str, action: str, detail: dict[str, Any] | None, result: str, now: float
) -> dict[str, str]:
    """An audit entry: who did what, when, and with which result (``detail`` as JSON)."""
    return {
        "actor": actor,
        "action": action,
        "detail": json.dumps(detail or {}, default=str),
        "result": result,
        "ts": f"{now:.3f}",
    }


def decode_audit(entries: Iterable[tuple[str, Mapping[str, str]]]) -> list[dict[str, Any]]:
    """Audit stream entries as dicts with their id and decoded ``detail``."""
    return [{"id": sid, **f, "detail": json.loads(f.get("detail", "{}"))} for sid, f in entries]


def writeback_enabled(raw: str | None) -> bool:
    """The kill switch from its key's value: on unless an operator switched write-back off."""
    return bool(raw != WRITEBACK_OFF)


# ----------------------------------------------------------------- demand and time scale
def parse_quantity(model: str, quantity: Any, known: Sequence[str]) -> int:
    """A model's demand as a whole number >= 0, or :class:`ValidationError` saying what is wrong."""
    if model not in known:
        raise ValidationError(f"unknown model {model!r} (known: {', '.join(known)})")
    bad = f"demand for {model!r} must be a whole number >= 0, got {quantity!r}"
    if isinstance(quantity, bool) or not isinstance(quantity, int | str | float):
        raise ValidationError(bad)
    try:
        qty = int(str(quantity).strip())
    except ValueError:
        raise ValidationError(bad) from None
    if isinstance(quantity, float) and quantity != qty:
        raise ValidationError(bad)
    if qty < 0:
        raise ValidationError(f"demand for {model!r} must be >= 0, got {qty}")
    return qty


def demand_event_fields(model: str, qty: int, actor: str, now: float) -> dict[str, str]:
    """A demand-change event."""
    return {"model": model, "qty": str(qty), "actor": actor, "ts": f"{now:.3f}"}


def decode_time_scale(raw: str | None) -> float:
    """Plant seconds per wall-clock second from its key (1 when absent or not a positive number)."""
    try:
        scale = float(raw) if raw else 1.0
    except ValueError:
        return 1.0  # written by hand: rates shown per wall-clock hour rather than wrong ones
    return scale if math.isfinite(scale) and scale > 0 else 1.0


# ----------------------------------------------------------------- mapping problems
class MappingProblemRow(TypedDict):
    """A tag an adapter cannot mirror as bound (``fatal``) or mirrors with a caveat, as the store holds it."""

    equipment: str
    tag: str
    node: str
    problem: str
    fatal: bool
    endpoint: str
    reported: float


def mapping_problem_writes(
    endpoint: str,
    problems: Iterable[Mapping[str, Any]],
    tags: Iterable[tuple[str, str]],
    now: float,
) -> tuple[dict[str, str], list[str]]:
    """What one adapter's report writes to the problems hash: ``(fields to set, fields to delete)``.

    One field per tag (``<equipment>.<tag>``; ids and tag names hold no dot), its value the JSON list of
    the tag's problems. The tags the adapter mirrors (``tags``) that have no problem now are deleted, so a
    fixed binding disappears with the next report, and adapters of other endpoints or shards are untouched.
    """
    per_tag: dict[str, list[dict[str, Any]]] = {}
    for p in problems:
        field = f"{p['equipment']}.{p['tag']}"
        per_tag.setdefault(field, []).append(
            {
                "node": str(p["node"]),
                "problem": str(p["problem"]),
                "fatal": bool(p.get("fatal", True)),
                "endpoint": endpoint,
                "reported": round(now, 3),
            }
        )
    to_set = {f: json.dumps(v, ensure_ascii=True) for f, v in per_tag.items()}
    to_delete = sorted({f"{eq}.{tag}" for eq, tag in tags} - set(to_set))
    return to_set, to_delete


def decode_mapping_problems(raw: Mapping[str, str]) -> list[MappingProblemRow]:
    """The problems hash as rows, sorted by equipment, tag and node."""
    rows: list[MappingProblemRow] = []
    for field, value in raw.items():
        equipment, _sep, tag = field.partition(".")
        for p in json.loads(value):
            rows.append(
                MappingProblemRow(
                    equipment=equipment,
                    tag=tag,
                    node=str(p.get("node", "")),
                    problem=str(p.get("problem", "")),
                    fatal=bool(p.get("fatal", True)),
                    endpoint=str(p.get("endpoint", "")),
                    reported=float(p.get("reported", 0.0)),
                )
            )
    rows.sort(key=lambda r: (r["equipment"], r["tag"], r["node"], r["problem"]))
    return rows


def queue_mapping_problems(pipe: Any, key: str, to_set: Mapping[str, str], to_delete: Sequence[str]) -> None:
    """Queue a report (:func:`mapping_problem_writes`' output) on a pipeline, sync or asyncio."""
    if to_delete:
        pipe.hdel(key, *to_delete)
    if to_set:
        pipe.hset(key, mapping=dict(to_set))
