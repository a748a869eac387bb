"""Redis stream ids (``<ms>-<seq>``): parse, format, the id at a time, and the ids XRANGE takes.

Every reader of the change stream (history, KPIs, the live feed, retention figures) goes through these,
so an id is read and written one way throughout. A bare ``<ms>`` is accepted where Redis accepts it and
means ``<ms>-0``.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "FIRST_ID",
    "ID_PATTERN",
    "MAX_SEQ",
    "StreamId",
    "exclusive",
    "format_id",
    "full_id",
    "id_at",
    "id_ms",
    "is_valid_id",
    "parse_id",
]

#: The id before every entry (XREAD from here reads the whole stream).
FIRST_ID = "0-0"
#: The largest sequence number of a millisecond.
MAX_SEQ = 2**64 - 1
#: A full ``<ms>-<seq>`` id, as a regular expression (query parameter validation).
ID_PATTERN = r"^\d{1,19}-\d{1,19}$"


class StreamId(NamedTuple):
    """A parsed id; compares in stream order."""

    ms: int
    seq: int


def parse_id(stream_id: str) -> StreamId:
    """``"<ms>-<seq>"`` (or ``"<ms>"``) as a sortable :class:`StreamId`."""
    ms, _, seq = stream_id.partition("-")
    return StreamId(int(ms), int(seq or 0))


def id_ms(stream_id: str) -> int:
    """Milliseconds part of a stream id (the Redis write time)."""
    return int(stream_id.split("-", 1)[0])


def format_id(ms: int, seq: int = 0) -> str:
    """The text form of an id."""
    return f"{ms}-{seq}"


def id_at(ts: float, *, end: bool = False) -> str:
    """The first (or, with ``end``, last) possible stream id at a time in seconds."""
    ms = max(0, int(ts * 1000))
    return format_id(ms, MAX_SEQ if end else 0)


def full_id(text: str) -> str:
    """``<ms>`` as ``<ms>-0``; a full id as it is."""
    return text if "-" in text else f"{text}-0"


def exclusive(stream_id: str) -> str:
    """An XRANGE bound that leaves ``stream_id`` itself out (``(<id>``)."""
    return f"({stream_id}"


def is_valid_id(text: str) -> bool:
    """True for ``<ms>`` or ``<ms>-<seq>`` with at most 19 digits each (what a client may resume after)."""
    ms, sep, seq = text.partition("-")
    return ms.isdigit() and len(ms) <= 19 and (not sep or (seq.isdigit() and len(seq) <= 19))
