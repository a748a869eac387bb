"""Value checks of the ingest hot path: one fast ``value -> cleaned value | Flag`` function per tag.

A check returns the value to store (type-cleaned) or a :class:`Flag`: :data:`BAD` for a value that fails
the tag's type or range, or an ``uncertain`` flag carrying a raw value (a code a map does not know). The
sink tests ``type(v) is Flag`` once per change; nothing else costs a plain tag anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from twin.model import TagDef, TagType

__all__ = ["BAD", "Flag", "make_checker", "uncertain"]


class Flag:
    """A value that is not good: ``BAD`` (fails the tag's type or range) or an uncertain raw value."""

    __slots__ = ("quality", "raw")

    def __init__(self, quality: str, raw: Any = None) -> None:
        self.quality = quality
        self.raw = raw

    def __repr__(self) -> str:
        return f"Flag({self.quality!r}, {self.raw!r})"


#: Returned by a checker for a value that fails the tag's type or range (the raw value is kept as is).
BAD = Flag("bad")


def uncertain(raw: Any) -> Flag:
    """A value stored ``uncertain`` with its raw value (e.g. a code the tag's map does not know)."""
    return Flag("uncertain", raw)


def make_checker(
    tag: TagDef, enum_names: Mapping[int, str] | None = None, arrays: bool = True
) -> Callable[[Any], Any]:
    """A fast ``value -> cleaned value or BAD`` for one tag: type and min/max (arrays: per element).

    With ``arrays=False`` (a scalar tag) an array value is BAD.
    """
    lo = tag.min if tag.min is not None else -math.inf
    hi = tag.max if tag.max is not None else math.inf
    ranged = tag.min is not None or tag.max is not None
    t = tag.type
    names = dict(enum_names or {})
    known_names = set(names.values())

    def enum(v: Any) -> Any:
        if type(v) is str:
            return v if v in known_names else BAD
        if isinstance(v, int) and type(v) is not bool:
            return names.get(int(v), BAD)
        return BAD

    def scalar(v: Any) -> Any:
        cls = type(v)
        if t is TagType.FLOAT:
            if cls is float:
                if v != v or v in (math.inf, -math.inf):  # NaN / infinities
                    return BAD
            elif cls is not int:
                return BAD
        elif t is TagType.INT or t is TagType.ENUM:
            if (
                cls is not int
                and t is TagType.ENUM
                and (cls is str or isinstance(getattr(v, "Text", None), str))
            ):
                return v if cls is str else v.Text  # an enumeration served by name (String / LocalizedText)
            if cls is not int:
                if (cls is float and v.is_integer()) or (isinstance(v, int) and cls is not bool):
                    v = int(v)
                else:
                    return BAD
        elif t is TagType.BOOL:
            return v if cls is bool else BAD
        else:  # STRING
            if cls is str:
                return v
            text = getattr(v, "Text", None)  # LocalizedText
            return text if isinstance(text, str) else BAD
        if ranged and not lo <= v <= hi:
            return BAD
        return v

    if names:
        scalar = enum

    def check(v: Any) -> Any:
        if type(v) is list:
            if not arrays:
                return BAD
            out = [scalar(x) for x in v]
            return BAD if any(x is BAD for x in out) else out
        return scalar(v)

    check.scalar = scalar  # type: ignore[attr-defined]  # the hot path calls it directly for non-lists
    return check
