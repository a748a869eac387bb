"""The plant CP-SAT model: problem in, schedule out (pure; no store, no clock).

Split as the model is built: :mod:`~twin.schedule.plant.model.variables` (per lot, one optional
fixed-size interval per (eligible resource, available window) that fits, plus an "unscheduled" literal),
:mod:`~twin.schedule.plant.model.constraints` (precedences, symmetry, per-resource no-overlap and model
campaigns with changeovers, powered windows, the power cap), :mod:`~twin.schedule.plant.model.objective`
(weighted levels), and :func:`solve_plant` composing them. :func:`evaluate` computes the same objective
in Python, so a re-planner can compare any schedule (e.g. the old plan) with the solver's;
:func:`validate` checks every rule a schedule must keep.
"""

from twin.schedule.plant.model.costs import SCALE
from twin.schedule.plant.model.evaluate import evaluate
from twin.schedule.plant.model.results import Scheduled, Score, SolveResult
from twin.schedule.plant.model.solve import build_model, solve_plant
from twin.schedule.plant.model.validate import validate

__all__ = ["SCALE", "Scheduled", "Score", "SolveResult", "build_model", "evaluate", "solve_plant", "validate"]
