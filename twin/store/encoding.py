"""What the live hashes and change-stream entries hold, written once for the sync and the async store.

A live hash field is ``[value, quality, source_ts, server_ts]``; a change-stream entry's ``d`` field is a
JSON list of ``[equipment, tag, value, quality, source_ts]``, both compact JSON. A non-finite float is
never stored as a good value: it becomes ``null`` with quality ``bad``. :func:`encode_batch` is the one
encoder of a write; its fast path (:func:`encode_change_fast`) builds the same text without ``json.dumps``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from twin.changes import BAD, GOOD, QUALITIES, QUALITY_RANK, Change, ChangeLike
from twin.errors import NotFoundError

__all__ = [
    "UPDATED_FIELD",
    "decode_changes",
    "decode_value",
    "encode_batch",
    "encode_change",
    "encode_change_fast",
    "encode_changes",
    "encode_value",
    "join_change_elements",
    "live_tags",
    "worst_quality",
]

#: The live-hash field holding the server time of the last write (not a tag).
UPDATED_FIELD = "_updated"

_INF = math.inf
_encode_str = json.encoder.encode_basestring_ascii


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
        value, quality = None, BAD
    element = json.dumps([equipment, tag, value, quality, source_ts], separators=(",", ":"), allow_nan=False)
    return encode_value(value, quality, source_ts, server_ts), element


def encode_change_fast(
    eq: str, tag: str, value: Any, quality: str, ts: float, now_r: str
) -> tuple[str, str] | None:
    """:func:`encode_change` built without ``json.dumps``, for the common value types.

    Exactly its output (``now_r`` is ``repr`` of its ``server_ts``); ``None`` for anything else (the
    caller then uses :func:`encode_change`).
    ``eq`` is a known equipment id (the config's pattern: nothing to escape); ``tag`` is checked here.
    """
    t = type(value)
    if t is float:
        if value != value or value == _INF or value == -_INF:
            v, quality = "null", "bad"
        else:
            v = repr(value)
    elif t is int:
        v = repr(value)
    elif t is str:
        v = _encode_str(value)
    elif value is None:
        v = "null"
    else:
        return None
    if quality not in QUALITIES or (type(ts) is not float and type(ts) is not int):
        return None
    if not (tag.isidentifier() and tag.isascii()):
        return None
    ts_r = repr(ts)
    return f'[{v},"{quality}",{ts_r},{now_r}]', f'["{eq}","{tag}",{v},"{quality}",{ts_r}]'


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


def encode_batch(
    changes: Sequence[ChangeLike], live_keys: Mapping[str, str], now: float
) -> tuple[dict[str, dict[str, str]], str]:
    """One write: the fields to set per live hash (each with :data:`UPDATED_FIELD`) and the change-stream
    entry's payload. ``live_keys`` maps equipment id -> live hash key; an unknown id is refused
    (:class:`NotFoundError`) before anything is written.
    """
    stamp = f"{now:.6f}"
    now_r = repr(now)
    per_key: dict[str, dict[str, str]] = {}
    elements: list[str] = []
    for eq, tag, value, quality, ts in changes:
        try:
            key = live_keys[eq]
        except KeyError:
            raise NotFoundError(f"unknown equipment {eq!r}") from None
        fast = encode_change_fast(eq, tag, value, quality, ts, now_r)
        if fast is not None:
            field, element = fast
        else:  # lists, booleans, odd tags: json does it (same output)
            field, element = encode_change(eq, tag, value, quality, ts, now)
        fields = per_key.get(key)
        if fields is None:
            fields = per_key[key] = {UPDATED_FIELD: stamp}
        fields[tag] = field
        elements.append(element)
    return per_key, join_change_elements(elements)


def live_tags(raw: Mapping[str, str]) -> dict[str, tuple[Any, str, float]]:
    """A live hash's tags (its bookkeeping fields left out): tag -> ``(value, quality, source_ts)``."""
    out: dict[str, tuple[Any, str, float]] = {}
    for tag, enc in raw.items():
        if tag.startswith("_"):
            continue
        v, q, ts, _ = decode_value(enc)
        out[tag] = (v, q, ts)
    return out


def worst_quality(qualities: Iterable[str], start: str = GOOD) -> str:
    """The worst of ``start`` and some qualities (by :data:`~twin.changes.QUALITY_RANK`; an unknown one
    ranks worst)."""
    worst = start
    for q in qualities:
        if QUALITY_RANK.get(q, 3) > QUALITY_RANK.get(worst, 0):
            worst = q
    return worst
