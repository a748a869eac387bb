"""Objective coefficients and window tests, shared by the CP-SAT objective and :func:`evaluate`.

Weights are per minute and times are seconds, so every coefficient is scaled by :data:`SCALE`.
"""

from __future__ import annotations

from twin.schedule.plant.problem import PlantLot, PlantProblem, Window

__all__ = [
    "SCALE",
    "all_windows",
    "campaign_cost",
    "fits",
    "kwh_weight",
    "last_entry_end",
    "lot_cost",
    "overlaps",
    "window_cost",
]

#: Objective scale: weights are per minute; times are seconds.
SCALE = 60


def window_cost(problem: PlantProblem, rid: str, w: Window) -> int:
    """Powering ``rid`` through window ``w``: its idle energy plus the active-window weight."""
    r = problem.resources[rid]
    kwh = r.idle_kw * w.length / 3600.0
    return round(kwh * kwh_weight(problem) * SCALE) + problem.weights.active_window * SCALE


def lot_cost(problem: PlantProblem, lot: PlantLot, rid: str) -> int:
    """Building ``lot`` on ``rid``: its processing energy above idle."""
    return round(problem.modes[lot.model][rid].extra_kwh(lot.quantity) * kwh_weight(problem) * SCALE)


def kwh_weight(problem: PlantProblem) -> int:
    """The weight of a kWh: the tariff prices energy under the objective "cost" (none here), kWh only break
    ties under "time" (:mod:`twin.schedule.plant.model.energy`)."""
    if problem.objective == "cost" and problem.tariff is not None:
        return 0
    return 1 if problem.objective == "time" else problem.weights.kwh


def campaign_cost(problem: PlantProblem, model: str) -> int:
    """One campaign of ``model`` on a resource: the mean changeover into it."""
    others = [s for (a, b), s in problem.changeover.items() if b == model]
    mean = sum(others) / len(others) if others else 0.0
    return round(problem.weights.changeover_min * mean)


def fits(w: Window, release: int, duration: int) -> bool:
    """A lot released at ``release`` that takes ``duration`` fits in ``w``."""
    return max(w.start, release) + duration <= w.end


def overlaps(w: Window, start: int, end: int) -> bool:
    """``[start, end)`` overlaps ``w``."""
    return start < w.end and end > w.start


def last_entry_end(windows: tuple[Window, ...], drain_s: int) -> int:
    """The latest time a flow lot's last car may enter so it still leaves within ``windows``: ``drain_s``
    of working time must follow (a line pauses between shifts with its cars inside). -1: never."""
    left = drain_s
    for w in reversed(windows):
        if w.length >= left:
            return w.end - left
        left -= w.length
    return -1


def all_windows(problem: PlantProblem, rid: str) -> tuple[Window, ...]:
    """A resource's available windows."""
    return problem.resources[rid].windows
