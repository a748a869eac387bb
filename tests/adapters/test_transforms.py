"""Value transforms compiled per tag (pure): maps, PackML, rules over bits, scaling, units, arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapters.opcua.errors import MappingError
from adapters.opcua.transforms import PACKML, handle_checks
from adapters.opcua.units import conversion, unit_of
from adapters.opcua.values import BAD, Flag, make_checker
from twin.model import StationState, TagDef, TagType
from twin.tagsource import Rule, Scale


def one(tag: TagDef, **kw: Any) -> Callable[[Any], Any]:
    (check,) = handle_checks(tag, 0, **kw)
    return check


def test_plain_tag_gets_the_plain_checker() -> None:
    tag = TagDef(name="x", type=TagType.FLOAT, min=0)
    check = one(tag)
    assert check.__qualname__ == make_checker(tag).__qualname__
    assert check(1.5) == 1.5 and check(-1.0) is BAD


def test_map_unknown_code_is_uncertain_with_raw_value() -> None:
    check = one(TagDef(name="state", type=TagType.ENUM, map={1: "Running", 2: "Idle", 3: "Fault"}))
    assert check(3) == "Fault" and check("2") == "Idle"
    out = check(7)
    assert type(out) is Flag and (out.quality, out.raw) == ("uncertain", 7)
    assert check([1, 2]) is BAD  # a code map needs one code


def test_packml_preset_covers_every_state_and_a_map_overrides() -> None:
    assert set(PACKML) == set(range(1, 18))
    assert set(PACKML.values()) <= {s.value for s in StationState}
    check = one(TagDef(name="state", type=TagType.ENUM, preset="packml", map={5: "Blocked"}))
    assert [check(c) for c in (6, 4, 11, 5, 9, 2)] == [
        "Running",
        "Idle",
        "Blocked",
        "Blocked",
        "Fault",
        "Off",
    ]
    assert type(check(0)) is Flag


def test_rules_first_match_wins_and_unknown_input_is_uncertain() -> None:
    tag = TagDef(
        name="state",
        type=TagType.ENUM,
        when=[Rule(node="ns=2;s=F", value="Fault"), Rule(node="ns=2;s=R", value="Running")],
        default="Idle",
    )
    fault, running = handle_checks(tag, 2, has_own_node=False)
    out = fault(False)
    assert type(out) is Flag and out.quality == "uncertain"  # Running bit not seen yet
    assert running(False) == "Idle"
    assert running(True) == "Running"
    assert fault(True) == "Fault"  # first match wins
    word = TagDef(
        name="state",
        type=TagType.ENUM,
        node="ns=2;i=1",
        map={0: "Idle", 1: "Running"},
        when=[Rule(bit=3, value="Fault")],
    )
    (own,) = handle_checks(word, 0)
    assert own(0b1000) == "Fault" and own(1) == "Running"


def test_scale_units_and_arrays() -> None:
    raw = one(TagDef(name="p", type=TagType.FLOAT, scale=Scale(raw=(0, 27648), eng=(0, 100))))
    assert raw(13824) == pytest.approx(50.0)
    assert raw("x") is BAD
    watts = one(TagDef(name="power_kw", type=TagType.FLOAT, unit="kW"), unit=conversion("W", "kW"))
    assert watts(2500.0) == pytest.approx(2.5)
    assert conversion("Wh", "kWh") == (0.001, 0.0) and conversion("kW", "kW") is None
    with pytest.raises(MappingError, match=r"'W' .*does not convert to 's'"):
        conversion("W", "s")
    with pytest.raises(MappingError, match="'furlong' is unknown"):
        conversion("furlong", "m")
    assert unit_of("", int.from_bytes(b"WTT", "big")) == "W"
    top = one(TagDef(name="t", type=TagType.FLOAT, array="max"))
    assert top([1.0, 7.5, 3.0]) == 7.5
    anyf = one(TagDef(name="f", type=TagType.BOOL, array="any"))
    assert anyf([False, True]) is True
    scalar = one(TagDef(name="part_count", type=TagType.INT))
    assert scalar([1, 2]) is BAD  # a standard tag is a scalar
