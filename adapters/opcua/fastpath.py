"""A fast decoder for the one message that dominates ingest: a PublishResponse carrying data changes.

asyncua decodes every notification into dataclasses (Variant, DataValue, StatusCode, datetime...) through
its generic reflective decoder; that costs more CPU per change than everything else the adapter does.
:func:`install` replaces one client session's ``publish`` with a version that parses the common case
(DataChangeNotifications whose values are scalars or arrays of built-in numeric/string types) straight
from the bytes into plain tuples ``(client_handle, value, status_code, source_ts, server_ts)``, with
timestamps as epoch seconds. Anything else (events, status changes, structures, diagnostics, picosecond
timestamps, a service fault) makes the parser return ``None`` and the message is decoded by asyncua as
before, so behaviour never depends on the fast path.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from asyncua import ua
from asyncua.ua.ua_binary import struct_from_binary
from asyncua.ua.uaerrors import UaStructParsingError

log = logging.getLogger(__name__)

_EPOCH_FT = 116_444_736_000_000_000  # 1970-01-01 as a FILETIME (100 ns ticks since 1601)
_U8 = struct.Struct("<B").unpack_from
_U16 = struct.Struct("<H").unpack_from
_I32 = struct.Struct("<i").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I64 = struct.Struct("<q").unpack_from
_HANDLE_MASK = struct.Struct("<IB").unpack_from

# Fixed-size scalar variant types: type id -> (struct, size).
_FIXED: dict[int, tuple[Any, int]] = {
    2: (struct.Struct("<b").unpack_from, 1),
    3: (struct.Struct("<B").unpack_from, 1),
    4: (struct.Struct("<h").unpack_from, 2),
    5: (struct.Struct("<H").unpack_from, 2),
    6: (struct.Struct("<i").unpack_from, 4),
    7: (struct.Struct("<I").unpack_from, 4),
    8: (struct.Struct("<q").unpack_from, 8),
    9: (struct.Struct("<Q").unpack_from, 8),
    10: (struct.Struct("<f").unpack_from, 4),
    11: (struct.Struct("<d").unpack_from, 8),
}
_DATACHANGE = ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary
_PUBLISH_RESPONSE = ua.ObjectIds.PublishResponse_Encoding_DefaultBinary


class Unsupported(Exception):
    """The message holds something the fast path does not decode: use asyncua's decoder."""


class FastDataChange:
    """A DataChangeNotification decoded to ``(handle, value, status, source_ts, server_ts)`` tuples."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[int, Any, int, float | None, float | None]]) -> None:
        self.items = items


class _Msg:
    __slots__ = ("NotificationData", "PublishTime", "SequenceNumber")

    def __init__(self, seq: int, data: list[Any]) -> None:
        self.SequenceNumber = seq
        self.PublishTime = None
        self.NotificationData = data


class _Result:
    __slots__ = ("AvailableSequenceNumbers", "MoreNotifications", "NotificationMessage", "SubscriptionId")

    def __init__(self, sid: int, available: list[int], more: bool, msg: _Msg) -> None:
        self.SubscriptionId = sid
        self.AvailableSequenceNumbers = available
        self.MoreNotifications = more
        self.NotificationMessage = msg


class _Response:
    __slots__ = ("Parameters",)

    def __init__(self, params: _Result) -> None:
        self.Parameters = params


def _nodeid(b: bytes, p: int) -> tuple[int, int]:
    """A numeric NodeId in namespace 0 -> (identifier, new position); anything else is unsupported."""
    enc = b[p]
    if enc == 0:
        return b[p + 1], p + 2
    if enc == 1:
        if b[p + 1] != 0:
            raise Unsupported
        return _U16(b, p + 2)[0], p + 4
    if enc == 2:
        if _U16(b, p + 1)[0] != 0:
            raise Unsupported
        return _U32(b, p + 3)[0], p + 7
    raise Unsupported


def _string(b: bytes, p: int) -> tuple[str | None, int]:
    n = _I32(b, p)[0]
    p += 4
    if n < 0:
        return None, p
    return b[p : p + n].decode("utf-8"), p + n


def _scalar(b: bytes, p: int, vt: int) -> tuple[Any, int]:
    fixed = _FIXED.get(vt)
    if fixed is not None:
        return fixed[0](b, p)[0], p + fixed[1]
    if vt == 11:
        return _FIXED[11][0](b, p)[0], p + 8
    if vt == 1:
        return b[p] != 0, p + 1
    if vt == 12:
        return _string(b, p)
    if vt == 13:
        ft = _I64(b, p)[0]
        return ((ft - _EPOCH_FT) / 1e7 if ft > 0 else None), p + 8
    if vt == 21:  # LocalizedText: mask, [locale], [text] -> the text
        mask = b[p]
        p += 1
        text = None
        if mask & 1:
            _loc, p = _string(b, p)
        if mask & 2:
            text, p = _string(b, p)
        return text, p
    raise Unsupported


def _variant(b: bytes, p: int) -> tuple[Any, int]:
    enc = b[p]
    p += 1
    vt = enc & 0x3F
    if vt == 0:
        return None, p
    if not enc & 0x80:
        return _scalar(b, p, vt)
    if enc & 0x40:  # multi-dimensional arrays: rare, leave them to asyncua
        raise Unsupported
    n = _I32(b, p)[0]
    p += 4
    if n < 0:
        return None, p
    fixed = _FIXED.get(vt)
    if fixed is not None:
        fmt = {2: "b", 3: "B", 4: "h", 5: "H", 6: "i", 7: "I", 8: "q", 9: "Q", 10: "f", 11: "d"}[vt]
        size = fixed[1] * n
        return list(struct.unpack_from(f"<{n}{fmt}", b, p)), p + size
    out = []
    for _ in range(n):
        v, p = _scalar(b, p, vt)
        out.append(v)
    return out, p


def parse_publish(b: bytes) -> _Response | None:
    """Decode a PublishResponse (TypeId first) holding only data changes; None if anything is unusual."""
    try:
        return _parse(b)
    except (Unsupported, IndexError, struct.error, UnicodeDecodeError, KeyError):
        return None


def _parse(b: bytes) -> _Response | None:
    tid, p = _nodeid(b, 0)
    if tid != _PUBLISH_RESPONSE:
        return None
    # ResponseHeader: Timestamp, RequestHandle, ServiceResult, ServiceDiagnostics, StringTable,
    # AdditionalHeader.
    p += 12
    if _U32(b, p)[0] != 0:  # a bad service result: asyncua's path reports it
        return None
    p += 4
    if b[p] != 0:  # diagnostics present
        return None
    p += 1
    if _I32(b, p)[0] > 0:  # a string table
        return None
    p += 4
    _t, p = _nodeid(b, p)
    if b[p] != 0:  # an additional header with a body
        return None
    p += 1
    # PublishResult
    sid = _U32(b, p)[0]
    p += 4
    n = _I32(b, p)[0]
    p += 4
    available = list(struct.unpack_from(f"<{max(n, 0)}I", b, p))
    p += 4 * max(n, 0)
    more = b[p] != 0
    p += 1
    seq = _U32(b, p)[0]
    p += 12  # SequenceNumber, PublishTime
    count = _I32(b, p)[0]
    p += 4
    data: list[Any] = []
    for _ in range(max(count, 0)):
        tid, p = _nodeid(b, p)
        if tid != _DATACHANGE or b[p] != 1:
            return None
        p += 1
        end = p + 4 + _I32(b, p)[0]
        p += 4
        data.append(FastDataChange(_items(b, p)))
        p = end
    return _Response(_Result(sid, available, more, _Msg(seq, data)))


def _items(b: bytes, p: int) -> list[tuple[int, Any, int, float | None, float | None]]:
    n = _I32(b, p)[0]
    p += 4
    out: list[tuple[int, Any, int, float | None, float | None]] = []
    append = out.append
    epoch = _EPOCH_FT
    f64 = _FIXED[11][0]
    i32 = _I32
    for _ in range(max(n, 0)):
        handle, mask = _HANDLE_MASK(b, p)
        p += 5
        if mask & 0x30:  # picoseconds: asyncua orders them differently from the spec; do not guess
            raise Unsupported
        value: Any = None
        status = 0
        src = srv = None
        if mask & 1:
            enc = b[p]
            # The common PLC scalars inline (a function call each costs as much as the decode itself).
            if enc == 11:  # Double
                value = f64(b, p + 1)[0]
                p += 9
            elif enc == 6:  # Int32
                value = i32(b, p + 1)[0]
                p += 5
            elif enc == 12:  # String
                n = i32(b, p + 1)[0]
                p += 5
                if n >= 0:
                    value = b[p : p + n].decode("utf-8")
                    p += n
            elif enc == 1:  # Boolean
                value = b[p + 1] != 0
                p += 2
            else:
                value, p = _variant(b, p)
        if mask & 2:
            status = _U32(b, p)[0]
            p += 4
        if mask & 4:
            ft = _I64(b, p)[0]
            src = (ft - epoch) / 1e7 if ft > 0 else None
            p += 8
        if mask & 8:
            ft = _I64(b, p)[0]
            srv = (ft - epoch) / 1e7 if ft > 0 else None
            p += 8
        append((handle, value, status, src, srv))
    return out


def install(session: Any) -> None:
    """Make ``session.publish`` use the fast decoder (falls back to asyncua's per message)."""
    send = session._send_request

    async def publish(acks: list[Any]) -> Any:
        request = ua.PublishRequest()
        request.Parameters.SubscriptionAcknowledgements = acks if acks else []
        try:
            data = await send(request, timeout=0)
        except ConnectionError:
            # The session is gone; the adapter's watchdog tears this client down and cancels us. Parking
            # here spares asyncua's publish loop from logging a traceback per retry meanwhile.
            await asyncio.Event().wait()
            raise
        fast = parse_publish(bytes(data))
        if fast is not None:
            return fast
        try:
            return struct_from_binary(ua.PublishResponse, data)
        except Exception as ex:  # as asyncua's own publish: the loop skips an unparsable message
            log.exception("Error parsing notification from server")
            raise UaStructParsingError from ex

    session.publish = publish
