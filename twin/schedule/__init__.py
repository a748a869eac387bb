"""Scheduling: :mod:`twin.schedule.jobshop`, a generic job-shop (JSSP/FJSP) solver stack (instances,
greedy, tabu search, CP-SAT, validation), and :mod:`twin.schedule.plant`, the plant's re-planner (problem
from the twin, CP-SAT lot model, re-plan, simulation check, plan reports, the trigger service)."""
