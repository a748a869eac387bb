"""The hot-path encoders of the async store write exactly what the json-based encoders write."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from twin.store.aio import pack_live_writes
from twin.store.encoding import (
    encode_change,
    encode_change_fast,
    encode_changes,
    encode_value,
    join_change_elements,
)

NOW = 1_763_790_000.123456
VALUES: list[Any] = [
    0.1,
    -2.5e-300,
    1e22,
    7,
    -(2**70),
    "Running",
    'quote " back \\ slash',
    "Läuft ✓",
    "ctl\x01\n",
    None,
    math.nan,
    math.inf,
    -math.inf,
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
@pytest.mark.parametrize("quality", ["good", "uncertain", "bad", "stale"])
def test_fast_encoding_is_the_json_encoding(value: Any, quality: str) -> None:
    ts = 1_763_789_999.5
    fast = encode_change_fast("L1-WELD", "power_kw", value, quality, ts, repr(NOW))
    assert fast is not None
    field, element = fast
    finite = not (isinstance(value, float) and not math.isfinite(value))
    want_value, want_quality = (value, quality) if finite else (None, "bad")
    assert field == encode_value(want_value, want_quality, ts, NOW)
    assert element == encode_changes([("L1-WELD", "power_kw", want_value, want_quality, ts)])[1:-1]
    pair = [("L1-WELD", "power_kw", want_value, want_quality, ts), ("L1-PAINT", "state", "Idle", "good", ts)]
    other = encode_change(*pair[1], NOW)[1]
    assert join_change_elements([element, other]) == encode_changes(pair)  # the stream entry's payload
    assert json.loads(field)[0] == want_value or want_value is None
    assert fast == encode_change("L1-WELD", "power_kw", value, quality, ts, NOW)  # the json path, shared


@pytest.mark.parametrize(
    ("value", "quality", "tag", "ts"),
    [
        ([1.0, 2.0], "good", "t", 1.0),  # lists: json
        (True, "good", "t", 1.0),  # booleans are not ints here
        (1.0, "weird", "t", 1.0),  # an unknown quality
        (1.0, "good", 'x"y', 1.0),  # a tag that would need escaping
        (1.0, "good", "Größe", 1.0),  # not ASCII
        (1.0, "good", "t", "1.0"),  # a timestamp that is not a number
    ],
)
def test_anything_unusual_is_left_to_json(value: Any, quality: str, tag: str, ts: Any) -> None:
    assert encode_change_fast("E", tag, value, quality, ts, repr(NOW)) is None


def test_packed_script_call_is_valid_resp() -> None:
    per_key = {"sdf:{p:L1}:live:A": {"_updated": "1.0", "state": '["Idle","good",1.0,2.0]'}}
    raw = pack_live_writes(per_key, "sdf:{p}:changes", 1000, "src", "[]")
    assert raw is not None
    lines = raw.split(b"\r\n")
    assert lines[0] == b"*13"  # EVALSHA sha 0 + 4 fixed args + key, count, 2 x (field, value)
    assert lines[1:3] == [b"$7", b"EVALSHA"]
    bulk = lines[1:-1]
    # every bulk string's declared length is its byte length
    for size, payload in zip(bulk[0::2], bulk[1::2], strict=True):
        assert int(size[1:]) == len(payload)
    assert pack_live_writes(per_key, "sdf:{p}:changes", 1000, "Quelle ü", "[]") is None
