"""How the twin's tag types are served over OPC UA: one VariantType and one initial value per TagType.

Every server we build (the simulated PLCs, the benchmarks' and the tests' servers) declares its variables
from this table, so a tag has the same wire type wherever it is served and a client sees one contract.
"""

from __future__ import annotations

from typing import Any

from asyncua import ua

from twin.model import TagType

__all__ = ["INITIAL_VALUES", "VARIANT_TYPES", "initial_variant"]

#: The OPC UA type of a tag's value (an enum tag holds its state code, as the enumeration's Int32).
VARIANT_TYPES: dict[TagType, ua.VariantType] = {
    TagType.FLOAT: ua.VariantType.Double,
    TagType.INT: ua.VariantType.Int64,
    TagType.BOOL: ua.VariantType.Boolean,
    TagType.STRING: ua.VariantType.String,
    TagType.ENUM: ua.VariantType.Int32,
}

#: The value a freshly built variable holds before its first write.
INITIAL_VALUES: dict[TagType, Any] = {
    TagType.FLOAT: 0.0,
    TagType.INT: 0,
    TagType.BOOL: False,
    TagType.STRING: "",
    TagType.ENUM: 0,
}


def initial_variant(tag_type: TagType) -> ua.Variant:
    """The initial value of a variable of ``tag_type``, typed as it is served."""
    return ua.Variant(INITIAL_VALUES[tag_type], VARIANT_TYPES[tag_type])
