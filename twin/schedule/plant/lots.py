"""Lots: the demand split into lots that fit a shift, numbered per model, frozen lots kept as they are.

A lot is built inside one shift window, so no lot holds more cars than fit in the shortest shift on the
resources that build its model (:func:`max_lot_sizes`). Lots of a model are numbered ``<model>-NNN`` and
indexed in order (the index breaks the symmetry of interchangeable lots); a re-plan keeps the old plan's
lot ids and sizes where it can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from twin.errors import ValidationError
from twin.schedule.plant.problem import Fixed, Mode, PlantLot, Resource

__all__ = [
    "AUTO_LOTS_PER_MODEL",
    "LotNumbering",
    "auto_lot_size",
    "frozen_lots",
    "max_lot_sizes",
    "new_lots",
    "split_lots",
]

#: Default upper bound of non-frozen lots per model when the lot size is chosen automatically.
AUTO_LOTS_PER_MODEL = 8


def split_lots(quantity: int, lot_size: int) -> list[int]:
    """Split ``quantity`` cars into lots of ``lot_size`` (the last one smaller)."""
    if quantity <= 0:
        return []
    full, rest = divmod(quantity, lot_size)
    return [lot_size] * full + ([rest] if rest else [])


def auto_lot_size(demand: Mapping[str, int], lots_per_model: int = AUTO_LOTS_PER_MODEL) -> int:
    """A lot size that keeps the largest model to about ``lots_per_model`` lots (a multiple of 5)."""
    biggest = max([q for q in demand.values() if q > 0], default=1)
    size = math.ceil(biggest / lots_per_model)
    return max(1, math.ceil(size / 5) * 5) if size > 5 else max(1, size)


def max_lot_sizes(
    modes: Mapping[str, Mapping[str, Mode]],
    resources: Mapping[str, Resource],
    changeover: Mapping[tuple[str, str], int],
    window_s: int,
) -> dict[str, tuple[int, str]]:
    """Per model, the most cars a lot may hold, and the resource that sets it: ``(cars, resource)``.

    A lot is built inside one shift window, so it must fit in ``window_s`` (the shortest shift) after the
    longest changeover into its model. Fitting the fastest resource only is not enough: lots too big for
    the slower ones leave those idle while demand goes unmet (measured on the demo plant: the cell block
    38 % busy). So the cap is what fits on the slowest resource that can build the model and has a
    window, among those at least half as fast as the fastest (a very slow one would shrink every lot).
    A model that no resource can build within a shift is left out (not capped: it stays unmet either
    way, and lots of one car would only grow the model).
    """
    out: dict[str, tuple[int, str]] = {}
    for model, per_res in modes.items():
        co = max([s for (_a, b), s in changeover.items() if b == model], default=0)
        fits: list[tuple[int, str]] = []
        for rid, mode in sorted(per_res.items()):
            if not resources[rid].windows or mode.per_car_s <= 0:
                continue
            setup = 0.0 if mode.pipelined else mode.setup_s  # a flow lot's fill is not its own
            fit = math.floor((window_s - co - setup) / mode.per_car_s + 1e-9)
            while fit > 0 and mode.duration(fit) > window_s - co:  # rounding up of the duration
                fit -= 1
            if fit > 0:
                fits.append((fit, rid))
        if not fits:
            continue
        best = max(f for f, _r in fits)
        out[model] = min((f, r) for f, r in fits if 2 * f >= best)
    return out


@dataclass
class LotNumbering:
    """The lot ids taken so far and the next index per model (shared by frozen and new lots)."""

    used: set[str] = field(default_factory=set)
    index: dict[str, int] = field(default_factory=dict)

    def next_index(self, model: str) -> int:
        """The index of the next lot of ``model``."""
        idx = self.index.get(model, 0)
        self.index[model] = idx + 1
        return idx


def frozen_lots(
    frozen: Sequence[tuple[str, str, int, str, int]],
    resources: Mapping[str, Resource],
    modes: Mapping[str, Mapping[str, Mode]],
    now: int,
    numbering: LotNumbering,
) -> list[PlantLot]:
    """Lots that stay where they are: ``(lot id, model, quantity, resource, start)`` each."""
    lots: list[PlantLot] = []
    for lot_id, model, qty, res, start in sorted(frozen, key=lambda f: (f[1], f[4], f[0])):
        if res not in resources or model not in modes or res not in modes[model]:
            raise ValidationError(f"frozen lot {lot_id} of {model} on {res!r} cannot be built there")
        idx = numbering.next_index(model)
        lots.append(PlantLot(lot_id, model, qty, idx, release=min(start, now), fixed=Fixed(res, start)))
    numbering.used.update(lot.id for lot in lots)
    return lots


def _sizes(
    given: Sequence[tuple[str, int]], left: int, cap: int, size: int, used: set[str]
) -> list[tuple[str | None, int]]:
    """``(id or None, cars)`` of a model's new lots: the given ones first (capped), the rest by ``size``."""
    sizes: list[tuple[str | None, int]] = []
    for given_lot, q in given:
        if left <= 0:
            break
        sizes.append((given_lot if given_lot not in used else None, min(q, left, cap)))
        left -= sizes[-1][1]
    return sizes + [(None, q) for q in split_lots(left, size)]


def _name_lots(
    model: str,
    sizes: Sequence[tuple[str | None, int]],
    given: Sequence[tuple[str, int]],
    numbering: LotNumbering,
    release: int,
    due: int | None,
) -> list[PlantLot]:
    """The lots of one model, with fresh ids ``<model>-NNN`` where none is given."""
    lots: list[PlantLot] = []
    counter = 0
    for given_id, qty in sizes:
        lot_id: str | None = given_id
        idx = numbering.next_index(model)
        if lot_id is None:
            counter = max(counter, idx + 1)
            while f"{model}-{counter:03d}" in numbering.used or any(
                g == f"{model}-{counter:03d}" for g, _ in given
            ):
                counter += 1
            lot_id = f"{model}-{counter:03d}"
        numbering.used.add(lot_id)
        lots.append(PlantLot(lot_id, model, qty, idx, release=release, due=due))
    return lots


def new_lots(
    remaining: Mapping[str, int],
    requested: int,
    caps: Mapping[str, tuple[int, str]],
    *,
    numbering: LotNumbering,
    now: int,
    shift_s: int,
    automatic: bool,
    quantities: Mapping[str, Sequence[tuple[str, int]]] | None = None,
    due: Mapping[str, int] | None = None,
) -> tuple[list[PlantLot], list[str]]:
    """The lots for the demand left after the frozen ones, and notes on lot sizes that were capped.

    ``requested`` is the lot size asked for (``automatic`` when chosen by :func:`auto_lot_size`);
    ``quantities`` gives ``(lot id, size)`` of a model's first lots.
    """
    lots: list[PlantLot] = []
    notes: list[str] = []
    for model in sorted(remaining):
        cap, where = caps.get(model, (requested, ""))
        given = [(i, q) for i, q in (quantities or {}).get(model, []) if q > 0]
        asked = max([min(requested, remaining[model]), *(q for _i, q in given)])
        if asked > cap:
            how = " (automatic)" if automatic else ""
            notes.append(
                f"{model}: lot size {asked}{how} capped to {cap} cars: a lot must fit in one "
                f"{shift_s / 3600:g} h shift on each resource that builds it ({cap} on {where})"
            )
        sizes = _sizes(given, remaining[model], cap, min(requested, cap), numbering.used)
        lots += _name_lots(model, sizes, given, numbering, now, (due or {}).get(model))
    return lots, notes
