"""Value transforms declared per tag: array reduction, code maps (and the PackML preset), state rules over
Boolean bits, linear scaling and unit conversion, compiled once per tag into plain closures.

:func:`handle_checks` returns one ``value -> stored value | Flag`` function per monitored item of a tag
(the tag's own node first, then the nodes its ``when`` rules test). A tag without transforms gets exactly
the type/range checker it had before (:func:`~adapters.opcua.values.make_checker`): it pays nothing extra.
Order: LocalizedText -> text and enumeration code -> name; ``array``; ``map``/``preset``; ``scale``; unit
conversion; the tag's type/range check; then ``when`` rules (first match wins) override the result.

**PackML** (ISA-TR88.00.02 state codes) -> twin states:
Execute (6) -> Running; Idle (4), Starting (3), Resetting (15), Completing (16), Complete (17) -> Idle;
Held (11), Holding (10), Unholding (12) -> Blocked (the machine itself waits: jam, operator);
Suspended (5), Suspending (13), Unsuspending (14) -> Starved (waiting on the line, most often for parts:
where a line suspends on a full downstream buffer, override with ``map: {5: Blocked}``);
Aborting (8), Aborted (9), Clearing (1) -> Fault; Stopped (2), Stopping (7) -> Off; Undefined (0) and any
other code -> uncertain. A changeover comes from the unit mode: ``when: [{node: <UnitMode>, equals: <code
of your changeover mode>, value: Changeover}]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adapters.opcua.values import BAD, Flag, make_checker, uncertain
from twin.model import BUFFER_TAGS, STANDARD_TAGS, TagDef, TagType
from twin.tagsource import ArrayReduce, Rule

__all__ = ["PACKML", "handle_checks", "value_transform"]

Check = Callable[[Any], Any]

#: PackML state code -> twin station state (see the module docstring).
PACKML: dict[int | str, str] = {
    1: "Fault",
    2: "Off",
    3: "Idle",
    4: "Idle",
    5: "Starved",
    6: "Running",
    7: "Off",
    8: "Fault",
    9: "Fault",
    10: "Blocked",
    11: "Blocked",
    12: "Blocked",
    13: "Starved",
    14: "Starved",
    15: "Idle",
    16: "Idle",
    17: "Idle",
}
_UNSET = object()
#: Standard tags are scalars: an array value for one is bad unless the tag declares ``array``.
SCALAR_TAGS = frozenset(t.name for t in (*STANDARD_TAGS, *BUFFER_TAGS))


def _reducer(kind: ArrayReduce) -> Callable[[list[Any]], Any] | None:
    if kind is ArrayReduce.KEEP:
        return None
    fns: dict[ArrayReduce, Callable[[list[Any]], Any]] = {
        ArrayReduce.MAX: max,
        ArrayReduce.MIN: min,
        ArrayReduce.SUM: sum,
        ArrayReduce.MEAN: lambda xs: sum(xs) / len(xs),
        ArrayReduce.ANY: lambda xs: any(bool(x) for x in xs),
        ArrayReduce.ALL: lambda xs: all(bool(x) for x in xs),
        ArrayReduce.FIRST: lambda xs: xs[0],
    }
    fn = fns[kind]

    def reduce(xs: list[Any]) -> Any:
        if not xs:
            return BAD
        try:
            return fn(xs)
        except TypeError:  # non-numbers
            return BAD

    return reduce


def _text(v: Any) -> Any:
    """LocalizedText (asyncua's decoder) -> its text; anything else as it is."""
    text = getattr(v, "Text", None)
    return text if isinstance(text, str) else v


def value_transform(
    tag: TagDef,
    enum_names: Mapping[int, str] | None = None,
    unit: tuple[float, float] | None = None,
) -> Check | None:
    """The transform of a tag's own node (before its type check), or None if it declares none."""
    codes: dict[Any, str] | None = None
    if tag.preset == "packml":
        codes = {**PACKML, **(tag.map or {})}
    elif tag.map is not None:
        codes = dict(tag.map)
    if codes is not None:
        # YAML keys may be numbers or text; a PLC may send either ("3" is not 3): accept both spellings
        codes.update({str(k): v for k, v in list(codes.items()) if not isinstance(k, str)})
    names = dict(enum_names or {}) if codes is not None else {}
    reduce = _reducer(tag.array) if tag.array is not None else None
    linear = tag.scale.linear() if tag.scale is not None else None
    steps = [linear, unit]
    affine = [s for s in steps if s is not None]
    if codes is None and reduce is None and not affine:
        return None

    def transform(v: Any) -> Any:
        if type(v) is list:
            if reduce is not None:
                v = reduce(v)
                if v is BAD:
                    return BAD
            elif codes is not None:
                return BAD  # a code map needs one code, not an array
        if codes is not None:
            v = _text(v)
            if names and type(v) is int:
                v = names.get(v, v)
            out = codes.get(v, _UNSET)
            return uncertain(v) if out is _UNSET else out
        for f, o in affine:
            if type(v) is list:
                v = [x * f + o if isinstance(x, int | float) and type(x) is not bool else BAD for x in v]
                if any(x is BAD for x in v):
                    return BAD
            elif isinstance(v, int | float) and type(v) is not bool:
                v = v * f + o
            else:
                return BAD
        return v

    return transform


def _with(transform: Check, check: Check) -> Check:
    def run(v: Any) -> Any:
        out = transform(v)
        return out if type(out) is Flag else check(out)

    return run


def _own_check(tag: TagDef, enum_names: Mapping[int, str] | None, unit: tuple[float, float] | None) -> Check:
    """Transform (if any) and type/range check of the tag's own node."""
    transform = value_transform(tag, enum_names, unit)
    if transform is None:
        return make_checker(tag, enum_names, arrays=tag.name not in SCALAR_TAGS)
    if tag.map is not None or tag.preset is not None:  # the map yields names: checked as text
        out_tag = tag.model_copy(update={"type": TagType.STRING, "min": None, "max": None})
        return _with(transform, make_checker(out_tag))
    if tag.array in (ArrayReduce.ANY, ArrayReduce.ALL) and tag.type is not TagType.BOOL:
        return transform  # a Boolean reduction feeding a numeric tag: kept as the Boolean it is
    return _with(transform, make_checker(tag, enum_names))


def handle_checks(
    tag: TagDef,
    rule_nodes: int,
    has_own_node: bool = True,
    enum_names: Mapping[int, str] | None = None,
    unit: tuple[float, float] | None = None,
) -> list[Check]:
    """One check per monitored item of ``tag``: its own node (if any), then one per ``when`` rule node.

    Without ``when`` rules this is ``[own check]``. With them, every item's check stores its value in the
    tag's state and returns the derived value: the first matching rule's ``value``, else the own node's
    transformed value, else ``default``. A rule whose node has not reported yet makes the result uncertain.
    """
    own = _own_check(tag, enum_names, unit)
    rules = tag.when or []
    if not rules:
        return [own]
    return _Derived(own, rules, has_own_node, tag.default).checks(rule_nodes)


class _Derived:
    """The latest value of each input of a rule-derived tag, and the rules over them."""

    def __init__(self, own: Check, rules: Sequence[Rule], has_own: bool, default: str | None) -> None:
        self.own = own
        self.has_own = has_own
        self.default = default
        self.inputs: list[Any] = [_UNSET] * (1 + sum(1 for r in rules if r.on_node))
        # (input index, bit or None, value to compare, result); input 0 is the tag's own node
        self.rules: list[tuple[int, int | None, Any, str]] = []
        k = 1
        for r in rules:
            if r.on_node:
                self.rules.append((k, r.bit, r.equals, r.value))
                k += 1
            else:
                self.rules.append((0, r.bit, r.equals, r.value))

    def checks(self, rule_nodes: int) -> list[Check]:
        """Checks for the own node (when present), then the rule nodes in order."""
        first = 0 if self.has_own else 1
        return [self._input(i) for i in range(first, 1 + rule_nodes)]

    def _input(self, i: int) -> Check:
        def take(v: Any) -> Any:
            self.inputs[i] = _text(v)
            return self.value()

        return take

    def value(self) -> Any:
        """The derived value from the latest inputs."""
        inputs = self.inputs
        for k, bit, equals, result in self.rules:
            v = inputs[k]
            if v is _UNSET or v is None:
                return uncertain(None)
            if bit is not None:
                if not isinstance(v, int) or isinstance(v, bool):
                    return BAD
                if bool((v >> bit) & 1) == bool(equals):
                    return result
            elif v == equals:
                return result
        if self.has_own:
            raw = inputs[0]
            return uncertain(None) if raw is _UNSET else self.own(raw)
        return self.default
