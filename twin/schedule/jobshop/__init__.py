"""Generic (flexible) job-shop scheduling: instances, greedy and tabu heuristics, a CP-SAT solver, a checker.

:func:`solve` is the entry point (greedy -> CP-SAT probe -> tabu -> full CP-SAT -> LNS, see
:mod:`~twin.schedule.jobshop.portfolio`); :func:`violations` / :func:`check` validate any schedule with
code shared with no solver. Modules: ``instances`` (problem data, file readers), ``greedy``, ``tabu``,
``bounds`` (heads, tails, lower bound), ``model`` (the CP-SAT model), ``cpsat`` (running CP-SAT), ``lns``,
``options``, ``portfolio``, ``solver``, ``validate``.
"""

from twin.schedule.jobshop.bounds import lower_bound
from twin.schedule.jobshop.greedy import RULES, best_greedy, list_schedule
from twin.schedule.jobshop.instances import (
    InstanceError,
    Operation,
    Option,
    Problem,
    ScheduledOp,
    ScheduleInvalidError,
    Solution,
    read_fjs,
    read_instance,
    read_jssp,
)
from twin.schedule.jobshop.model import JobShopModel, add_hint, build_model, extract_solution
from twin.schedule.jobshop.options import SolveOptions
from twin.schedule.jobshop.solver import solve
from twin.schedule.jobshop.tabu import tabu_search
from twin.schedule.jobshop.validate import check, violations

__all__ = [
    "RULES",
    "InstanceError",
    "JobShopModel",
    "Operation",
    "Option",
    "Problem",
    "ScheduleInvalidError",
    "ScheduledOp",
    "Solution",
    "SolveOptions",
    "add_hint",
    "best_greedy",
    "build_model",
    "check",
    "extract_solution",
    "list_schedule",
    "lower_bound",
    "read_fjs",
    "read_instance",
    "read_jssp",
    "solve",
    "tabu_search",
    "violations",
]
