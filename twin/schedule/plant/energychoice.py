"""Which energy settings a re-plan runs with: the request's, else the plant file's, checked before any solve.

A re-plan's power cap is the one asked for (``twin replan --power-cap KW``, ``POST /replan``), else the
plant file's contract demand (``energy.contract_kw``), unless no cap is asked for; its objective likewise
(``energy.objective``, else "energy"). A cap that is not a positive number, an unknown objective, the
objective "cost" without a tariff, and a cap below the plant's minimum powered load (some model could not
be built at all: the message names the smallest feasible cap) are refused with one clear
:class:`twin.errors.ValidationError` each, before the solver runs. The plan records the settings that
made it (:func:`energy_meta`, its ``meta["energy"]``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from twin.errors import ValidationError
from twin.model import Objective, Plant
from twin.schedule.plant.model import Scheduled, SolveResult, solve_plant
from twin.schedule.plant.model.energy import cap_holds_from, min_feasible_cap
from twin.schedule.plant.problem import PlantProblem
from twin.tariff import tariff_clock

__all__ = [
    "STAGE_SHARE",
    "EnergyChoice",
    "EnergyRequest",
    "apply_energy",
    "energy_meta",
    "minus",
    "resolve_energy",
    "staged_solve",
]

#: The share of a re-plan's solver time the first stage (objective "energy") gets under "cost" or "time".
STAGE_SHARE = 0.35


@dataclass(frozen=True)
class EnergyRequest:
    """Energy settings a caller asks one re-plan for (None / False: the defaults)."""

    power_cap_kw: float | None = None
    no_power_cap: bool = False
    objective: str | None = None


@dataclass(frozen=True)
class EnergyChoice:
    """The energy settings of one re-plan and where the cap came from."""

    objective: str
    power_cap_kw: float | None
    cap_source: str  # "request", "plant file (contract demand)" or "none"


def resolve_energy(
    plant: Plant, *, power_cap_kw: float | None, no_power_cap: bool = False, objective: str | None = None
) -> EnergyChoice:
    """The settings asked for, completed from the plant file (see the module docstring)."""
    settings = plant.energy
    if power_cap_kw is not None and no_power_cap:
        raise ValidationError("give a power cap or ask for no cap, not both")
    if power_cap_kw is not None and (not math.isfinite(power_cap_kw) or power_cap_kw <= 0):
        raise ValidationError(f"the power cap must be a number of kW > 0, got {power_cap_kw:g}")
    choices = [o.value for o in Objective]
    goal = objective if objective is not None else (settings.objective.value if settings else "energy")
    if goal not in choices:
        raise ValidationError(f"unknown objective {goal!r}: choose one of {', '.join(choices)}")
    if goal == Objective.COST and (settings is None or not settings.tariff):
        raise ValidationError(
            "the objective 'cost' needs a time-of-use tariff: add energy.tariff to the plant file "
            "(docs/replanning.md, Energy)"
        )
    if power_cap_kw is not None:
        return EnergyChoice(goal, float(power_cap_kw), "request")
    if not no_power_cap and settings is not None and settings.contract_kw is not None:
        return EnergyChoice(goal, float(settings.contract_kw), "plant file (contract demand)")
    return EnergyChoice(goal, None, "none")


def apply_energy(problem: PlantProblem, plant: Plant, choice: EnergyChoice) -> None:
    """Set the objective and tariff of ``problem``; refuse a cap below the plant's minimum powered load."""
    problem.objective = choice.objective
    problem.tariff = tariff_clock(plant.energy, problem.origin)
    if choice.power_cap_kw is None:
        return
    need, why = min_feasible_cap(problem)
    if choice.power_cap_kw < need:
        source = "" if choice.cap_source == "request" else f" ({choice.cap_source})"
        raise ValidationError(
            f"power cap {choice.power_cap_kw:g} kW{source} is below the plant's minimum powered load: {why}; "
            f"the smallest feasible cap is {need:g} kW"
        )


def energy_meta(problem: PlantProblem, choice: EnergyChoice) -> dict[str, Any]:
    """What a plan records about the energy settings that made it."""
    need, _why = min_feasible_cap(problem)
    return {
        "objective": choice.objective,
        "power_cap_kw": choice.power_cap_kw,
        "cap_source": choice.cap_source,
        "cap_from_s": cap_holds_from(problem) if choice.power_cap_kw is not None else None,
        "min_cap_kw": need,
        "tariff": problem.tariff is not None,
    }


def minus(
    powered: Sequence[tuple[str, int, int]], off: Iterable[tuple[str, int, int]]
) -> list[tuple[str, int, int]]:
    """Powered intervals ``(resource, start, end)`` less the hours switched off."""
    cut: dict[str, list[tuple[int, int]]] = {}
    for rid, a, b in off:
        cut.setdefault(rid, []).append((a, b))
    out: list[tuple[str, int, int]] = []
    for rid, a, b in powered:
        pieces = [(a, b)]
        for ca, cb in sorted(cut.get(rid, [])):
            pieces = [p for x, y in pieces for p in ((x, min(y, ca)), (max(x, cb), y)) if p[1] > p[0]]
        out += [(rid, x, y) for x, y in pieces]
    return sorted(out)


def staged_solve(
    problem: PlantProblem,
    time_limit_s: float,
    hint: Sequence[Scheduled] | None,
    *,
    workers: int,
    seed: int,
    deterministic: bool,
) -> SolveResult:
    """Solve ``problem``; under the objectives "cost" and "time" in two stages: first with the objective
    "energy" (the model CP-SAT closes fast, which meets the demand), then with the real objective hinted
    with that schedule, so the tariff or finishing time is searched from a complete plan that meets it."""
    if problem.objective == "energy":
        return solve_plant(problem, time_limit_s=time_limit_s, workers=workers, seed=seed, hint=hint,
                           deterministic=deterministic)  # fmt: skip
    first_s = time_limit_s * STAGE_SHARE
    first = solve_plant(dataclasses.replace(problem, objective="energy"), time_limit_s=first_s,
                        workers=workers, seed=seed, hint=hint, deterministic=deterministic)  # fmt: skip
    start = first.schedule or (list(hint) if hint else None)
    left = max(0.05, time_limit_s - (first.wall_s if not deterministic else first_s))
    second = solve_plant(problem, time_limit_s=left, workers=workers, seed=seed, hint=start,
                         deterministic=deterministic)  # fmt: skip
    second.wall_s = round(first.wall_s + second.wall_s, 4)
    second.stats["first_stage"] = {"status": first.status, "wall_s": first.wall_s}
    return second
