"""The archive's tables as Arrow data: columns, how a change's value is kept, and how files are encoded.

A change-stream entry's payload is the JSON list of ``[equipment, tag, value, quality, source_ts]`` that
:mod:`twin.store.encoding` writes (the fields of :class:`twin.changes.Change`). Each change becomes one row
of the ``changes`` table; a value of any JSON type is kept losslessly as ``kind`` + ``num`` / ``text``:

========  =====================  ==============================
kind      value                  stored in
========  =====================  ==============================
0         null                   -
1         bool                   ``num`` (0 / 1)
2         int                    ``num``
3         float                  ``num``
4         str                    ``text``
5         list / object          ``text`` (compact JSON)
========  =====================  ==============================

Rows are made by :class:`twin.archive.decode.PayloadDecoder` (in DuckDB). ``ts_us`` is the PLC source
time in microseconds (UTC epoch); ``entry_ms``/``entry_seq`` the stream id of
the entry and ``pos`` the change's place in it: ``(entry_ms, entry_seq, pos)`` is unique, which is what
"every change exactly once" is checked on. Rows stay in stream order; event tags and periodic samples go
to separate files (:func:`split_groups`), so KPI queries read only the events.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from twin.model import Plan, PlanAssignment

__all__ = [
    "AUDIT_SCHEMA",
    "CHANGE_SCHEMA",
    "DEMAND_SCHEMA",
    "EVENT_TAGS",
    "GROUPS",
    "PLAN_SCHEMA",
    "RawEntry",
    "audit_table",
    "decode_value",
    "demand_table",
    "group_of",
    "hour_slices",
    "parquet_bytes",
    "plan_table",
    "split_groups",
]

#: One change-stream entry as the archive reads it: ``(stream id, source, JSON payload)``.
RawEntry = tuple[str, str, str]

CHANGE_SCHEMA = pa.schema(
    [
        ("entry_ms", pa.int64()),
        ("entry_seq", pa.int32()),
        ("pos", pa.int32()),
        ("src", pa.string()),
        ("equipment", pa.string()),
        ("tag", pa.string()),
        ("ts_us", pa.int64()),
        ("quality", pa.string()),
        ("kind", pa.int8()),
        ("num", pa.float64()),
        ("text", pa.string()),
    ]
)
DEMAND_SCHEMA = pa.schema(
    [
        ("entry_ms", pa.int64()),
        ("entry_seq", pa.int32()),
        ("ts", pa.float64()),
        ("model", pa.string()),
        ("qty", pa.int64()),
        ("actor", pa.string()),
    ]
)
AUDIT_SCHEMA = pa.schema(
    [
        ("entry_ms", pa.int64()),
        ("entry_seq", pa.int32()),
        ("ts", pa.float64()),
        ("actor", pa.string()),
        ("action", pa.string()),
        ("result", pa.string()),
        ("detail", pa.string()),
    ]
)
PLAN_SCHEMA = pa.schema(
    [
        ("version", pa.int64()),
        ("created_at", pa.float64()),
        ("origin", pa.float64()),
        ("reason", pa.string()),
        ("resource", pa.string()),
        ("model", pa.string()),
        ("quantity", pa.int64()),
        ("start_ts", pa.float64()),
        ("end_ts", pa.float64()),
        ("lot", pa.string()),
        ("plan_json", pa.string()),
    ]
)

_HOUR_US = 3_600_000_000
_INT_ENCODING = {c: "DELTA_BINARY_PACKED" for c in ("entry_ms", "entry_seq", "pos", "ts_us")}


def _split_id(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def hour_slices(table: pa.Table) -> list[tuple[float, pa.Table]]:
    """The table split by source hour, as ``(hour start epoch s, rows)``; rows keep their (stream) order.

    No sort: files are compressed well enough as they come (a tag's values repeat along the stream) and
    sorting cost more CPU per change than everything else but the parse."""
    if table.num_rows == 0:
        return []
    hours = pc.divide(table["ts_us"], _HOUR_US)  # integer division: the hour bucket
    uniq = sorted(pc.unique(hours).to_pylist())
    if len(uniq) == 1:
        return [(float(uniq[0]) * 3600.0, table)]
    return [(float(h) * 3600.0, table.filter(pc.equal(hours, h))) for h in uniq]


#: Tags whose changes are events (state, counters): kept in their own files (``-e``), apart from the
#: periodic samples (energy, power, cycle times, levels, extra tags: ``-s``) that make up most rows, so
#: the KPI queries read a tenth of the data.
EVENT_TAGS = ("state", "part_count", "scrap_count", "model", "alarm")
#: File groups of the ``changes`` table: events and samples.
GROUPS = ("e", "s")


def split_groups(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """The rows of events and of samples (either may be empty; empty ones are left out)."""
    is_event = pc.is_in(table["tag"], value_set=pa.array(EVENT_TAGS))
    parts = [("e", table.filter(is_event)), ("s", table.filter(pc.invert(is_event)))]
    return [(g, t) for g, t in parts if t.num_rows]


def group_of(path: str) -> str | None:
    """The group of a change file from its name (``part-...-e.parquet``), None for other names."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".parquet")
    g = stem.rsplit("-", 1)[-1]
    return g if g in GROUPS else None


def parquet_bytes(table: pa.Table, *, row_group_size: int = 8192, level: int = 6) -> bytes:
    """A table as one Parquet file (zstd; delta-encoded integers, byte-split floats for changes)."""
    buf = io.BytesIO()
    names = set(table.schema.names)
    encoding = {c: e for c, e in _INT_ENCODING.items() if c in names}
    if "num" in names:
        encoding["num"] = "BYTE_STREAM_SPLIT"
    dictionary = [c for c in table.schema.names if c not in encoding]
    pq.write_table(
        table,
        buf,
        compression="zstd",
        compression_level=level,
        use_dictionary=dictionary,
        column_encoding=encoding or None,
        row_group_size=row_group_size,
        write_statistics=True,
    )
    return buf.getvalue()


def decode_value(kind: int | None, num: float | None, text: str | None) -> Any:
    """A stored value back as it was written (see the table in the module docstring)."""
    if kind == 1:
        return bool(num)
    if kind == 2:
        return int(num) if num is not None else None
    if kind == 3:
        return num
    if kind == 4:
        return text
    if kind == 5 and text is not None:
        return json.loads(text)
    return None


def demand_table(events: Sequence[tuple[str, dict[str, str]]]) -> pa.Table:
    """Demand-change events (``model``, ``qty``, ``actor``, ``ts`` fields)."""
    ids = [_split_id(sid) for sid, _f in events]
    return pa.table(
        {
            "entry_ms": [i[0] for i in ids],
            "entry_seq": [i[1] for i in ids],
            "ts": [float(f.get("ts") or i[0] / 1000) for i, (_s, f) in zip(ids, events, strict=True)],
            "model": [f.get("model", "") for _s, f in events],
            "qty": [int(f.get("qty") or 0) for _s, f in events],
            "actor": [f.get("actor", "") for _s, f in events],
        },
        schema=DEMAND_SCHEMA,
    )


def audit_table(entries: Sequence[tuple[str, dict[str, str]]]) -> pa.Table:
    """Audit entries (``actor``, ``action``, ``result``, ``detail`` JSON, ``ts`` fields)."""
    ids = [_split_id(sid) for sid, _f in entries]
    return pa.table(
        {
            "entry_ms": [i[0] for i in ids],
            "entry_seq": [i[1] for i in ids],
            "ts": [float(f.get("ts") or i[0] / 1000) for i, (_s, f) in zip(ids, entries, strict=True)],
            "actor": [f.get("actor", "") for _s, f in entries],
            "action": [f.get("action", "") for _s, f in entries],
            "result": [f.get("result", "") for _s, f in entries],
            "detail": [f.get("detail", "{}") for _s, f in entries],
        },
        schema=AUDIT_SCHEMA,
    )


def plan_table(plan: Plan) -> pa.Table:
    """One plan version: a row per lot (start/end as epoch seconds from the plan's origin)."""
    origin_v = plan.meta.get("origin")
    origin = float(origin_v) if isinstance(origin_v, int | float) else plan.created_at
    lots: list[PlanAssignment | None] = [*plan.assignments] or [None]
    doc = plan.model_dump_json()
    return pa.table(
        {
            "version": [plan.version] * len(lots),
            "created_at": [plan.created_at] * len(lots),
            "origin": [origin] * len(lots),
            "reason": [plan.reason] * len(lots),
            "resource": [a.resource if a else None for a in lots],
            "model": [a.model if a else None for a in lots],
            "quantity": [a.quantity if a else None for a in lots],
            "start_ts": [origin + a.start_s if a else None for a in lots],
            "end_ts": [origin + a.end_s if a else None for a in lots],
            "lot": [a.lot if a else None for a in lots],
            "plan_json": [doc] * len(lots),
        },
        schema=PLAN_SCHEMA,
    )
