"""Every rule a plant schedule must keep, checked independently of the solver."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

from twin.schedule.plant.model.costs import all_windows
from twin.schedule.plant.model.energy import power_errors
from twin.schedule.plant.model.results import Scheduled
from twin.schedule.plant.problem import PlantLot, PlantProblem

__all__ = ["validate"]


def _lot_errors(problem: PlantProblem, lot: PlantLot, s: Scheduled) -> list[str]:
    """A placed lot against its lot: same model and size, frozen unchanged, eligible, released, in a
    window, its duration."""
    errors: list[str] = []
    if s.model != lot.model or s.quantity != lot.quantity:
        errors.append(f"{s.lot}: model/quantity differ from the lot")
    if lot.fixed is not None:
        if (s.resource, s.start) != (lot.fixed.resource, lot.fixed.start):
            errors.append(f"{s.lot}: frozen lot moved to {s.resource}@{s.start}")
    else:
        if s.resource not in problem.eligible(lot):
            errors.append(f"{s.lot}: {s.resource} cannot build {lot.model}")
            return errors
        if s.start < lot.release:
            errors.append(f"{s.lot}: starts at {s.start} before its release {lot.release}")
        wins = all_windows(problem, s.resource)
        if not any(w.start <= s.start and s.end <= w.end for w in wins):
            errors.append(f"{s.lot}: [{s.start}, {s.end}) is outside the windows of {s.resource}")
    mode = problem.modes.get(lot.model, {}).get(s.resource)
    if mode is not None and s.end - s.start != mode.duration(lot.quantity):
        errors.append(f"{s.lot}: duration {s.end - s.start} != {mode.duration(lot.quantity)}")
    return errors


def _resource_errors(problem: PlantProblem, rid: str, items: list[Scheduled]) -> list[str]:
    """One resource's lots: no overlap with changeovers between them, each model one campaign."""
    errors: list[str] = []
    items.sort(key=lambda s: (s.start, s.end))
    for a, b in itertools.pairwise(items):
        gap = problem.changeover_s(a.model, b.model)
        if a.end + gap > b.start:
            errors.append(f"{rid}: {a.lot} and {b.lot} overlap (changeover {gap} s)")
    models_seq = [s.model for s in items]
    for m in set(models_seq):
        idx = [i for i, x in enumerate(models_seq) if x == m]
        if idx[-1] - idx[0] + 1 != len(idx):
            errors.append(f"{rid}: lots of {m} are not one campaign")
    return errors


def _power_errors(
    problem: PlantProblem, schedule: Sequence[Scheduled], powered: Sequence[tuple[str, int, int]] | None
) -> list[str]:
    """The plant's power never exceeds its cap (:func:`twin.schedule.plant.model.energy.power_errors`)."""
    return power_errors(problem, schedule, powered)


def validate(
    problem: PlantProblem,
    schedule: Sequence[Scheduled],
    powered: Sequence[tuple[str, int, int]] | None = None,
) -> list[str]:
    """Every rule a schedule must keep; returns the violations (empty: valid).

    Eligibility and durations, windows (frozen lots excepted) and release dates, no overlap and
    changeovers per resource, campaigns, precedences, frozen lots unchanged, peak-power cap (counting the
    idle power of the ``powered`` intervals, else of the windows that hold lots).
    """
    errors: list[str] = []
    lots = {lot.id: lot for lot in problem.lots}
    by_res: dict[str, list[Scheduled]] = defaultdict(list)
    seen: set[str] = set()
    for s in schedule:
        lot = lots.get(s.lot)
        if lot is None:
            errors.append(f"{s.lot}: not a lot of this problem")
            continue
        if s.lot in seen:
            errors.append(f"{s.lot}: scheduled twice")
        seen.add(s.lot)
        errors += _lot_errors(problem, lot, s)
        if lot.fixed is None and s.resource not in problem.eligible(lot):
            continue
        by_res[s.resource].append(s)
    for lot in problem.lots:
        if lot.fixed is not None and lot.id not in seen:
            errors.append(f"{lot.id}: frozen lot missing")
    placed = {s.lot: s for s in schedule}
    for lot in problem.lots:
        for p in lot.predecessors:
            if lot.id in placed and (p not in placed or placed[p].end > placed[lot.id].start):
                errors.append(f"{lot.id}: starts before its predecessor {p} ends")
    for rid, items in by_res.items():
        errors += _resource_errors(problem, rid, items)
    return errors + _power_errors(problem, schedule, powered)
