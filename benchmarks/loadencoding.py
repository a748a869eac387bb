"""The load server's binary encoding: served tags as rows of encoded ``MonitoredItemNotification``\\ s.

Each tag is one row of a numpy structured array laid out exactly as its encoded notification (client
handle, DataValue mask, variant type, value, source and server timestamps); a publish cycle updates the
value and timestamp columns of every row (vectorised) and :func:`publish_response` frames the bytes as a
``PublishResponse`` by hand. Every value differs from the previous cycle's, so every item changes in every
cycle. :func:`value_of` gives the same value as a ``ua.Variant`` (for Read and for tests).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from asyncua import ua

from adapters.opcua.variants import VARIANT_TYPES
from benchmarks.tagserver import plant_tags
from twin.model import TagType

__all__ = [
    "DATATYPE",
    "Block",
    "LoadTag",
    "Subscription",
    "filetime",
    "load_tags",
    "publish_response",
    "value_of",
]

_EPOCH_FT = 116_444_736_000_000_000  # 1970-01-01 as a FILETIME (100 ns ticks since 1601)
_MASK = 0x01 | 0x04 | 0x08  # DataValue: value, source timestamp, server timestamp
_STR_LEN = 8
#: Variant type id and numpy dtype of the value column, per value kind.
_COLUMNS: dict[str, tuple[int, Any]] = {
    "double": (11, "<f8"),
    "int32": (6, "<i4"),
    "bool": (1, "u1"),
    "string": (12, None),
}
#: The DataType NodeId (namespace 0) a Read of a tag's DataType answers, per value kind.
DATATYPE = {"double": 11, "int32": 6, "bool": 1, "string": 12}
#: The value kind that serves a tag of each OPC UA type (:data:`~adapters.opcua.variants.VARIANT_TYPES`):
#: Int64 tags are served as Int32, one 4-byte column and a scalar the client's fast decoder inlines.
_KIND = {
    ua.VariantType.Double: "double",
    ua.VariantType.Int64: "int32",
    ua.VariantType.Int32: "int32",
    ua.VariantType.Boolean: "bool",
    ua.VariantType.String: "string",
}
_ENUM_STATES = 7  # an enum tag cycles through 0..6 (the twin's station states)


@dataclass(frozen=True)
class LoadTag:
    """One served variable: its string NodeId (namespace 1 = the simulator's URI) and value kind."""

    node: str
    kind: str  # "double" | "int32" | "bool" | "string"
    enum: bool = False


def load_tags(config: Path, line: str | None = None) -> list[LoadTag]:
    """The tags of a plant config (one line, or all) as the simulator names them."""
    from twin.config import load_plant

    return [
        LoadTag(f"{eq}.{name}", _KIND[VARIANT_TYPES[ttype]], enum=ttype is TagType.ENUM)
        for eq, name, ttype, _unit in plant_tags(load_plant(config), line)
    ]


def filetime(t: float) -> int:
    """A POSIX time as an OPC UA DateTime (a FILETIME)."""
    return int(t * 1e7) + _EPOCH_FT


class Block:
    """The monitored items of one value kind, as encoded rows (handle, mask, variant, value, src, srv)."""

    def __init__(self, kind: str, handles: Sequence[int], tags: Sequence[LoadTag]) -> None:
        vt, vdtype = _COLUMNS[kind]
        fields: list[tuple[str, Any]] = [("h", "<u4"), ("m", "u1"), ("vt", "u1")]
        if kind == "string":
            fields += [("n", "<i4"), ("v", f"S{_STR_LEN}")]
        else:
            fields += [("v", vdtype)]
        fields += [("src", "<i8"), ("srv", "<i8")]
        self.kind = kind
        self.rows = np.zeros(len(handles), dtype=np.dtype(fields))
        self.rows["h"] = handles
        self.rows["m"] = _MASK
        self.rows["vt"] = vt
        if kind == "string":
            self.rows["n"] = _STR_LEN
        self.offset = np.arange(len(handles), dtype=np.int64)
        self.modulus = np.array([_ENUM_STATES if t.enum else 1 << 30 for t in tags], dtype=np.int64)

    def update(self, k: int, ft: int) -> bytes:
        """Values of cycle ``k`` (each differs from cycle ``k - 1``) stamped ``ft``; the encoded rows."""
        rows = self.rows
        if self.kind == "double":
            rows["v"] = self.offset * 0.5 + (k % 100_000) * 0.25
        elif self.kind == "int32":
            rows["v"] = (self.offset + k) % self.modulus
        elif self.kind == "bool":
            rows["v"] = k & 1
        else:
            rows["v"] = b"M%07d" % (k % 10_000_000)
        rows["src"] = ft
        rows["srv"] = ft
        return rows.tobytes()


def value_of(tag: LoadTag, index: int, k: int) -> ua.Variant:
    """The value ``Block.update`` gives tag number ``index`` (in its kind) in cycle ``k``, as a Variant."""
    if tag.kind == "double":
        return ua.Variant(index * 0.5 + (k % 100_000) * 0.25, ua.VariantType.Double)
    if tag.kind == "int32":
        return ua.Variant((index + k) % (_ENUM_STATES if tag.enum else 1 << 30), ua.VariantType.Int32)
    if tag.kind == "bool":
        return ua.Variant(bool(k & 1), ua.VariantType.Boolean)
    return ua.Variant(f"M{k % 10_000_000:07d}", ua.VariantType.String)


@dataclass
class Subscription:
    """One client subscription: its timing, monitored items and their encoded blocks."""

    sid: int
    interval_s: float
    keepalive: int
    items: dict[int, tuple[int, LoadTag]] = field(default_factory=dict)  # monitored item id -> (handle, tag)
    blocks: list[Block] | None = None
    enabled: bool = True
    seq: int = 0
    cycle: int = 0
    last_sent: float = 0.0

    def due(self) -> float:
        """When this subscription answers next: one publishing interval after the last answer, or a
        keepalive interval when nothing is monitored or publishing is off."""
        busy = bool(self.items) and self.enabled
        return self.last_sent + (self.interval_s if busy else self.interval_s * self.keepalive)

    def encoded_items(self, ft: int) -> tuple[int, bytes]:
        """(count, bytes) of every item's next value, encoded, with timestamps ``ft`` (a FILETIME)."""
        if self.blocks is None:
            by_kind: dict[str, list[tuple[int, LoadTag]]] = {}
            for handle, tag in self.items.values():
                by_kind.setdefault(tag.kind, []).append((handle, tag))
            self.blocks = [
                Block(kind, [h for h, _t in rows], [t for _h, t in rows]) for kind, rows in by_kind.items()
            ]
        self.cycle += 1
        return len(self.items), b"".join(b.update(self.cycle, ft) for b in self.blocks)


def publish_response(sub: Subscription, handle: int, acks: int) -> bytes:
    """A PublishResponse (TypeId first) with every item of ``sub`` changed, or a keepalive."""
    now_ft = filetime(time.time())
    if sub.items and sub.enabled:
        sub.seq += 1
        n, items = sub.encoded_items(now_ft)
        data = [(n, items)]
    else:
        data = []
    seq = sub.seq + (0 if data else 1)
    parts = []
    # TypeId (four-byte NodeId), ResponseHeader (Timestamp, RequestHandle, ServiceResult, no diagnostics,
    # empty string table, null additional header), SubscriptionId, no AvailableSequenceNumbers,
    # MoreNotifications, NotificationMessage header, NotificationData count.
    head = struct.pack(
        "<BBHqIIBiBBBIiBIqi",
        0x01, 0, ua.ObjectIds.PublishResponse_Encoding_DefaultBinary,
        now_ft, handle, 0, 0, -1, 0, 0, 0,
        sub.sid, 0, 0, seq, now_ft, len(data),
    )  # fmt: skip
    parts.append(head)
    for n, items in data:
        body_len = 4 + len(items) + 4  # item count, items, DiagnosticInfos (-1)
        parts.append(
            struct.pack(
                "<BBHBii",
                0x01,
                0,
                ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary,
                0x01,
                body_len,
                n,
            )
        )
        parts.append(items)
        parts.append(struct.pack("<i", -1))
    # Results (one Good per acknowledgement), DiagnosticInfos.
    parts.append(struct.pack(f"<i{acks}Ii", acks, *([0] * acks), -1))
    return b"".join(parts)
