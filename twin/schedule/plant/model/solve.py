"""Solve a plant problem with CP-SAT: variables, constraints and objective composed, then searched."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ortools.sat.python import cp_model

from twin.schedule.plant.model.constraints import (
    add_capacity_cut,
    add_precedences,
    add_resources,
    add_symmetry_breaking,
)
from twin.schedule.plant.model.costs import all_windows
from twin.schedule.plant.model.energy import EnergyVars, add_energy, hint_energy, switched_off
from twin.schedule.plant.model.objective import set_objective
from twin.schedule.plant.model.results import Scheduled, SolveResult
from twin.schedule.plant.model.variables import Alternative, ModelVars, lot_variables
from twin.schedule.plant.problem import PlantProblem

__all__ = ["build_model", "solve_plant"]


def build_model(problem: PlantProblem) -> tuple[cp_model.CpModel, ModelVars]:
    """The CP-SAT model of ``problem`` and its lot variables."""
    m, mv, _ev = _build(problem)
    return m, mv


def _build(problem: PlantProblem) -> tuple[cp_model.CpModel, ModelVars, EnergyVars]:
    m = cp_model.CpModel()
    mv = lot_variables(m, problem)
    add_precedences(m, problem, mv)
    add_symmetry_breaking(m, problem, mv)
    resources = add_resources(m, problem, mv)
    add_capacity_cut(m, problem, mv)
    ev = add_energy(m, problem, mv, resources)  # the power cap, switch-off hours, cost/time terms
    set_objective(m, problem, mv, resources, ev.terms)
    return m, mv, ev


def _chosen(problem: PlantProblem, mv: ModelVars, lot_id: str, s: Scheduled) -> Alternative | None:
    """The alternative of a lot that holds its hinted placement (same resource, inside the window)."""
    for a in mv.lots[lot_id].alternatives:
        win = all_windows(problem, a.rid)[a.win] if a.win is not None else None
        if a.rid == s.resource and win is not None and win.start <= s.start and s.end <= win.end:
            return a
    return None


def add_hint(m: cp_model.CpModel, problem: PlantProblem, mv: ModelVars, hint: Sequence[Scheduled]) -> None:
    """Hint every alternative of the hinted lots (a complete assignment of the main decisions)."""
    placed = {s.lot: s for s in hint}
    for lot in problem.lots:
        lv = mv.lots[lot.id]
        if lot.fixed is not None or lv.unscheduled is None:
            continue
        s = placed.get(lot.id)
        chosen = _chosen(problem, mv, lot.id, s) if s is not None else None
        m.add_hint(lv.unscheduled, chosen is None)
        for a in lv.alternatives:
            m.add_hint(a.presence, a is chosen)
            if a is chosen and s is not None:
                m.add_hint(a.start, s.start)
        if chosen is not None and s is not None:
            m.add_hint(lv.start, s.start)
            m.add_hint(lv.end, s.end)


def _parameters(
    solver: cp_model.CpSolver, time_limit_s: float, workers: int, seed: int, deterministic: bool, gap: float
) -> None:
    prm = solver.parameters
    prm.num_workers = max(1, workers)
    prm.random_seed = seed
    prm.relative_gap_limit = gap
    # CP-SAT otherwise installs its own SIGINT handler and leaves SIG_DFL behind after each solve, so the
    # next Ctrl-C would kill a long-running service (`twin serve`, `twin replanner`) instead of stopping it.
    prm.catch_sigint_signal = False
    if deterministic:
        prm.interleave_search = True
        prm.max_deterministic_time = max(0.05, time_limit_s)
        prm.max_time_in_seconds = max(0.1, 4 * time_limit_s)
    else:
        prm.max_time_in_seconds = max(0.05, time_limit_s)


def _schedule(solver: cp_model.CpSolver, mv: ModelVars) -> list[Scheduled]:
    """The chosen alternatives as scheduled lots, by resource and start."""
    schedule: list[Scheduled] = []
    for a in mv.alternatives:
        if solver.boolean_value(a.presence) if a.win is not None else True:
            st_v = int(solver.value(a.start))
            schedule.append(Scheduled(a.lot.id, a.lot.model, a.lot.quantity, a.rid, st_v, st_v + a.duration))
    schedule.sort(key=lambda s: (s.resource, s.start, s.lot))
    return schedule


def _stats(solver: cp_model.CpSolver, problem: PlantProblem, mv: ModelVars) -> dict[str, Any]:
    return {
        "alternatives": len(mv.alternatives),
        "lots": len(problem.lots),
        "branches": solver.num_branches,
        "deterministic_time": round(solver.deterministic_time, 3),
        # The wall-clock net fired: a deterministic run is then not reproducible (a loaded machine).
        "wall_limited": solver.wall_time >= 0.98 * solver.parameters.max_time_in_seconds,
    }


def solve_plant(
    problem: PlantProblem,
    *,
    time_limit_s: float = 5.0,
    workers: int = 2,
    seed: int = 0,
    hint: Sequence[Scheduled] | None = None,
    deterministic: bool = True,
    gap_limit: float = 0.001,
) -> SolveResult:
    """Solve ``problem`` with CP-SAT.

    ``hint`` (a full or partial schedule) warm-starts the search. With ``deterministic`` the search is
    interleaved and limited by deterministic time (about ``time_limit_s`` on this machine), so a fixed
    seed and worker count give the same schedule; a wall-clock limit of four times that is a safety net.
    The search also stops once the solution is proven within ``gap_limit`` (relative) of optimal.
    """
    t0 = time.perf_counter()
    m, mv, ev = _build(problem)
    if hint:
        add_hint(m, problem, mv, hint)
        hint_energy(m, ev, hint)
    solver = cp_model.CpSolver()
    _parameters(solver, time_limit_s, workers, seed, deterministic, gap_limit)
    code = solver.solve(m)
    schedule: list[Scheduled] = []
    objective: int | None = None
    bound: int | None = None
    gap: float | None = None
    off: list[tuple[str, int, int]] = []
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule = _schedule(solver, mv)
        off = switched_off(solver, ev)
        objective = round(solver.objective_value)
        bound = round(solver.best_objective_bound)
        gap = 0.0 if code == cp_model.OPTIMAL else abs(objective - bound) / max(1, abs(objective))
    return SolveResult(
        schedule=schedule,
        status=solver.status_name(code),
        objective=objective,
        bound=bound,
        wall_s=round(time.perf_counter() - t0, 4),
        gap=gap,
        stats=_stats(solver, problem, mv),
        off=off,
    )
