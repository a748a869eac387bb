"""Engineering units: the node's EUInformation -> the twin tag's unit, as ``value * factor + offset``.

A unit is known by its symbol (EUInformation.DisplayName, e.g. ``W``) or by its UNECE Rec. 20 common code
packed into EUInformation.UnitId (``WTT``). Units convert only within one dimension (power, energy, time,
...); anything else is a :class:`~adapters.opcua.errors.MappingError` naming both units.
"""

from __future__ import annotations

from adapters.opcua.errors import MappingError

__all__ = ["conversion", "unit_of"]

# symbol -> (dimension, factor to the dimension's base unit, offset), UNECE code
_UNITS: dict[str, tuple[str, float, float, str]] = {
    "mW": ("power", 1e-3, 0.0, "C31"),
    "W": ("power", 1.0, 0.0, "WTT"),
    "kW": ("power", 1e3, 0.0, "KWT"),
    "MW": ("power", 1e6, 0.0, "MAW"),
    "Wh": ("energy", 1.0, 0.0, "WHR"),
    "kWh": ("energy", 1e3, 0.0, "KWH"),
    "MWh": ("energy", 1e6, 0.0, "MWH"),
    "J": ("energy", 1 / 3600, 0.0, "JOU"),
    "kJ": ("energy", 1e3 / 3600, 0.0, "KJO"),
    "ms": ("time", 1e-3, 0.0, "C26"),
    "s": ("time", 1.0, 0.0, "SEC"),
    "min": ("time", 60.0, 0.0, "MIN"),
    "h": ("time", 3600.0, 0.0, "HUR"),
    "mm": ("length", 1e-3, 0.0, "MMT"),
    "cm": ("length", 1e-2, 0.0, "CMT"),
    "m": ("length", 1.0, 0.0, "MTR"),
    "mm/s": ("speed", 1e-3, 0.0, "C16"),
    "m/s": ("speed", 1.0, 0.0, "MTS"),
    "m/min": ("speed", 1 / 60, 0.0, "2X"),
    "°C": ("temperature", 1.0, 273.15, "CEL"),
    "K": ("temperature", 1.0, 0.0, "KEL"),
    "°F": ("temperature", 5 / 9, 273.15 - 32 * 5 / 9, "FAH"),
    "Pa": ("pressure", 1.0, 0.0, "PAL"),
    "kPa": ("pressure", 1e3, 0.0, "KPA"),
    "bar": ("pressure", 1e5, 0.0, "BAR"),
    "mbar": ("pressure", 100.0, 0.0, "MBR"),
    "A": ("current", 1.0, 0.0, "AMP"),
    "mA": ("current", 1e-3, 0.0, "4K"),
    "V": ("voltage", 1.0, 0.0, "VLT"),
    "kV": ("voltage", 1e3, 0.0, "KVT"),
    "Hz": ("frequency", 1.0, 0.0, "HTZ"),
    "1/min": ("frequency", 1 / 60, 0.0, "RPM"),
    "rpm": ("frequency", 1 / 60, 0.0, "RPM"),
    "%": ("ratio", 0.01, 0.0, "P1"),
    "kg": ("mass", 1.0, 0.0, "KGM"),
    "g": ("mass", 1e-3, 0.0, "GRM"),
    "t": ("mass", 1e3, 0.0, "TNE"),
}
_ALIASES = {"degC": "°C", "℃": "°C", "degF": "°F", "sec": "s", "kwh": "kWh", "kw": "kW"}


def _code(text: str) -> int:
    """A UNECE common code packed as EUInformation.UnitId (OPC UA Part 8: one byte per character)."""
    out = 0
    for ch in text:
        out = (out << 8) | ord(ch)
    return out


_BY_CODE = {_code(code): sym for sym, (*_rest, code) in _UNITS.items()}


def unit_of(display: str | None, unit_id: int | None) -> str | None:
    """The unit a node's EUInformation names: its symbol if known, else the UnitId's, else the text."""
    text = (display or "").strip()
    text = _ALIASES.get(text, text)
    if text in _UNITS:
        return text
    if unit_id is not None and unit_id in _BY_CODE:
        return _BY_CODE[unit_id]
    return text or None


def conversion(server_unit: str, tag_unit: str) -> tuple[float, float] | None:
    """``(factor, offset)`` turning ``server_unit`` values into ``tag_unit``; None when they are equal.

    Raises :class:`MappingError` when either unit is unknown or their dimensions differ.
    """
    src, dst = _ALIASES.get(server_unit, server_unit), _ALIASES.get(tag_unit, tag_unit)
    if src == dst:
        return None
    if src not in _UNITS or dst not in _UNITS:
        unknown = src if src not in _UNITS else dst
        raise MappingError(
            f"unit {server_unit!r} (server) does not convert to {tag_unit!r}: {unknown!r} is unknown"
        )
    d1, f1, o1, _c1 = _UNITS[src]
    d2, f2, o2, _c2 = _UNITS[dst]
    if d1 != d2:
        raise MappingError(f"unit {server_unit!r} ({d1}, server) does not convert to {tag_unit!r} ({d2})")
    # base = v * f1 + o1; dst = (base - o2) / f2
    return f1 / f2, (o1 - o2) / f2
