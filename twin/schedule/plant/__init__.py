"""The plant's re-planner: which car model is built where, when and in what order.

One concept per module, in the order a re-plan runs: :mod:`~.problem` (the problem's data and the plan
calendar), :mod:`~.resources` (lines and cells, how each model is built on them), :mod:`~.availability`
(windows from shifts and live faults), :mod:`~.lots` (demand split into lots), :mod:`~.build`
(:func:`build_problem`), :mod:`~.model` (the CP-SAT model, :func:`evaluate`, :func:`validate`),
:mod:`~.replan` (frozen window, warm start, never worse than the kept plan), :mod:`~.check` (the plan
simulated), :mod:`~.plans` (KPIs, diff, per-line split) and :mod:`~.trigger` (the service that re-plans
on demand changes, stores and dispatches plans).
"""

from twin.schedule.plant.build import build_problem
from twin.schedule.plant.check import PlanCheck, check_plan_in_sim
from twin.schedule.plant.model import Scheduled, Score, SolveResult, evaluate, solve_plant, validate
from twin.schedule.plant.plans import line_sequences, plan_diff, plan_kpis
from twin.schedule.plant.problem import PlantLot, PlantProblem, Weights
from twin.schedule.plant.replan import ReplanConfig, ReplanError, ReplanResult, replan
from twin.schedule.plant.trigger import Replanner, TriggerConfig

__all__ = [
    "PlanCheck",
    "PlantLot",
    "PlantProblem",
    "ReplanConfig",
    "ReplanError",
    "ReplanResult",
    "Replanner",
    "Scheduled",
    "Score",
    "SolveResult",
    "TriggerConfig",
    "Weights",
    "build_problem",
    "check_plan_in_sim",
    "evaluate",
    "line_sequences",
    "plan_diff",
    "plan_kpis",
    "replan",
    "solve_plant",
    "validate",
]
