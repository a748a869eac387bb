"""The fast PublishResponse decoder agrees with asyncua's decoder, and steps aside for what it can't read."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

from adapters.opcua.fastpath import FastDataChange, parse_publish

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def response(items: list[tuple[int, ua.DataValue]], extra: list[Any] | None = None) -> bytes:
    dc = ua.DataChangeNotification()
    for handle, dv in items:
        m = ua.MonitoredItemNotification()
        m.ClientHandle = handle
        m.Value = dv
        dc.MonitoredItems.append(m)
    resp = ua.PublishResponse()
    resp.Parameters.SubscriptionId = 7
    resp.Parameters.AvailableSequenceNumbers = [3, 4]
    resp.Parameters.NotificationMessage.SequenceNumber = 4
    resp.Parameters.NotificationMessage.NotificationData = [dc, *(extra or [])]
    return bytes(struct_to_binary(resp))


def dv(value: Any, vt: ua.VariantType, status: int = 0, src: datetime | None = NOW) -> ua.DataValue:
    return ua.DataValue(
        ua.Variant(value, vt), StatusCode=ua.StatusCode(status), SourceTimestamp=src, ServerTimestamp=NOW
    )


CASES = [
    (1.25, ua.VariantType.Double),
    (2.5, ua.VariantType.Float),
    (-3, ua.VariantType.Int16),
    (42, ua.VariantType.Int32),
    (2**40, ua.VariantType.Int64),
    (7, ua.VariantType.UInt32),
    (True, ua.VariantType.Boolean),
    ("Läuft", ua.VariantType.String),
    ([1.0, 2.0, 3.5], ua.VariantType.Double),
    ([1, 2, 3], ua.VariantType.Int32),
    (["a", "b"], ua.VariantType.String),
    (math.inf, ua.VariantType.Double),
]


@pytest.mark.parametrize(("value", "vt"), CASES)
def test_values_decode_like_asyncua(value: Any, vt: ua.VariantType) -> None:
    raw = response([(5, dv(value, vt))])
    fast = parse_publish(raw)
    assert fast is not None
    ref = struct_from_binary(ua.PublishResponse, Buffer(raw))
    assert fast.Parameters.SubscriptionId == 7
    assert fast.Parameters.NotificationMessage.SequenceNumber == 4
    assert fast.Parameters.AvailableSequenceNumbers == [3, 4]
    (notif,) = fast.Parameters.NotificationMessage.NotificationData
    assert isinstance(notif, FastDataChange)
    ((handle, v, status, src, srv),) = notif.items
    ref_item = ref.Parameters.NotificationMessage.NotificationData[0].MonitoredItems[0]
    assert handle == ref_item.ClientHandle == 5
    expected = ref_item.Value.Value.Value
    if isinstance(expected, float):
        assert v == pytest.approx(expected)
    else:
        assert v == expected
    assert status == 0
    assert src == pytest.approx(ref_item.Value.SourceTimestamp.timestamp())
    assert srv == pytest.approx(NOW.timestamp())


def test_status_null_value_and_missing_timestamp() -> None:
    raw = response(
        [
            (1, dv(None, ua.VariantType.Null, ua.StatusCodes.BadSensorFailure, src=None)),
            (2, dv("x", ua.VariantType.String)),
        ]
    )
    fast = parse_publish(raw)
    assert fast is not None
    items = fast.Parameters.NotificationMessage.NotificationData[0].items
    assert items[0][:3] == (1, None, ua.StatusCodes.BadSensorFailure)
    assert items[0][3] is None and items[0][4] == pytest.approx(NOW.timestamp())
    assert items[1][1] == "x"


def test_localized_text_becomes_its_text() -> None:
    raw = response([(1, dv(ua.LocalizedText("Fault", "en"), ua.VariantType.LocalizedText))])
    fast = parse_publish(raw)
    assert fast is not None
    assert fast.Parameters.NotificationMessage.NotificationData[0].items[0][1] == "Fault"


def test_unsupported_content_falls_back() -> None:
    # A structure value, a status-change notification, and garbage: all left to asyncua.
    eu = ua.EUInformation()
    assert parse_publish(response([(1, dv(eu, ua.VariantType.ExtensionObject))])) is None
    status = ua.StatusChangeNotification(Status=ua.StatusCode(ua.StatusCodes.BadTimeout))
    assert parse_publish(response([(1, dv(1.0, ua.VariantType.Double))], extra=[status])) is None
    assert parse_publish(b"\x01\x00\x3d\x03garbage") is None
    assert parse_publish(b"") is None
