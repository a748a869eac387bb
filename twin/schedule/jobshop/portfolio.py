"""The solver's pipeline: greedy -> CP-SAT probe -> tabu -> full CP-SAT -> LNS, each from the best so far.

1. greedy list schedules (every dispatch rule, then randomized restarts), and the hint when it is a
   complete valid plan;
2. on flexible shops, a short CP-SAT probe before the long tabu search: small instances are proven optimal
   there and stop;
3. tabu search (:mod:`twin.schedule.jobshop.tabu`) from the best schedule so far: most of the time on
   flexible shops, where it beats CP-SAT for the same time, a short start on plain job-shops. Not with
   frozen operations or a power cap, which the tabu's graph does not model;
4. the full CP-SAT model, hinted with the incumbent, whose makespan is the horizon;
5. on flexible shops (or with frozen operations), once the full search stalls, LNS for the rest
   (:mod:`twin.schedule.jobshop.lns`).

Every phase stops the pipeline once the makespan reaches the lower bound. The shares of the time are in
:mod:`twin.schedule.jobshop.options`; docs/scheduling-results.md has the measurements behind them.
"""

from __future__ import annotations

import time
from typing import Any

from ortools.sat.python import cp_model

from twin.schedule.jobshop.bounds import Assignment, lower_bound, trivial_horizon
from twin.schedule.jobshop.cpsat import FULL_PARAMS, configure, solve_until_stall
from twin.schedule.jobshop.greedy import best_greedy
from twin.schedule.jobshop.incumbent import Incumbent
from twin.schedule.jobshop.instances import Problem, ScheduledOp, Solution
from twin.schedule.jobshop.lns import run_lns
from twin.schedule.jobshop.model import add_hint, build_model, extract_solution
from twin.schedule.jobshop.options import (
    PROBE_FRACTION,
    TABU_FRACTION_FJSP,
    TABU_FRACTION_JSSP,
    TABU_ITERS_PER_S,
    SolveOptions,
)
from twin.schedule.jobshop.tabu import tabu_search
from twin.schedule.jobshop.validate import check, violations

__all__ = ["Portfolio"]


class Portfolio:
    """One solve of ``problem``: the incumbent, the lower bound and the stats, carried through the phases."""

    def __init__(
        self, problem: Problem, opts: SolveOptions, hint: Assignment, fixed: Assignment, t0: float
    ) -> None:
        self.problem = problem
        self.opts = opts
        self.hint = hint
        self.fixed = fixed
        self.t0 = t0
        self.stats: dict[str, Any] = {
            "workers": opts.workers,
            "seed": opts.seed,
            "deterministic": opts.deterministic,
        }
        self.lns = problem.flexible if opts.lns is None else opts.lns  # LNS hurt on plain job-shops
        self.lb = lower_bound(problem, fixed)
        self.inc: Incumbent | None = None
        tabu = TABU_FRACTION_FJSP if problem.flexible else TABU_FRACTION_JSSP
        self.tabu_fraction = tabu if opts.tabu_fraction is None else opts.tabu_fraction
        self.use_tabu = self.tabu_fraction > 0 and problem.power_cap is None and not fixed
        probe = PROBE_FRACTION if self.use_tabu and problem.flexible else 0.0
        self.probe_fraction = probe if opts.probe_fraction is None else opts.probe_fraction

    def run(self) -> Solution:
        """Every phase in turn; the best schedule found, validated, with its proven bound."""
        self.start()
        if self.probe() == "INFEASIBLE":
            return self.infeasible()
        self.tabu()
        if self.full() == "INFEASIBLE":
            return self.infeasible()
        self.improve()
        return self.result()

    def elapsed(self) -> float:
        """Seconds since the solve began."""
        return time.perf_counter() - self.t0

    def open(self) -> bool:
        """Whether there is anything left to do: no schedule yet, or one above the lower bound."""
        return self.inc is None or self.inc.makespan > self.lb

    def offer(self, cand: Incumbent) -> None:
        """Keep ``cand`` when it beats the incumbent."""
        if cand.beats(self.inc):
            self.inc = cand

    def start(self) -> None:
        """Phase 1: greedy list schedules, and the hint if it is complete and valid."""
        problem, opts = self.problem, self.opts
        g = best_greedy(
            problem,
            time_limit_s=min(0.5, 0.05 * opts.time_limit_s),
            seed=opts.seed,
            fixed=self.fixed,
            max_passes=40 if opts.deterministic else None,
        )
        if g is not None:
            self.offer(Incumbent.of(problem, g.ops))
            self.stats["greedy_makespan"] = g.makespan
        if self.hint and len(self.hint) == problem.n_ops:
            hinted = [x for x in _scheduled(problem, self.hint) if x is not None]
            if len(hinted) == problem.n_ops and not violations(problem, hinted, fixed=self.fixed):
                cand = Incumbent.of(problem, tuple(hinted))
                self.offer(cand)
                self.stats["hint_makespan"] = cand.makespan

    def probe(self) -> str | None:
        """Phase 2: a short CP-SAT probe before a long tabu search (easy instances end here, optimal)."""
        if not (self.probe_fraction > 0 and self.open()):
            return None
        status = self.full_solve(self.probe_fraction * self.opts.time_limit_s, None)
        self.stats["probe_makespan"] = self.inc.makespan if self.inc else None
        return status

    def tabu(self) -> None:
        """Phase 3: tabu search from the best schedule so far."""
        inc, opts = self.inc, self.opts
        if not (self.use_tabu and inc is not None and inc.makespan > self.lb):
            return
        budget = self.tabu_fraction * opts.time_limit_s
        tb = tabu_search(
            self.problem,
            Solution(inc.makespan, 0, "FEASIBLE", 0.0, tuple(inc.ops.values())),
            time_limit_s=budget,
            seed=opts.seed,
            max_iters=int(TABU_ITERS_PER_S * budget) if opts.deterministic else None,
            lower_bound=self.lb,
        )
        self.stats.update(tb.stats, tabu_makespan=tb.makespan, tabu_s=round(tb.wall_s, 2))
        self.offer(Incumbent.of(self.problem, tb.ops))

    def full(self) -> str | None:
        """Phase 4: the full model, left to the LNS once it stalls (after a minimum share of the time)."""
        if not self.open():
            return None
        opts, limit = self.opts, self.opts.time_limit_s
        if opts.deterministic:
            budget = limit * (opts.full_fraction if self.lns else 1.0)
        else:
            budget = limit * (opts.full_max_fraction if self.lns else 1.0) - self.elapsed()
        stall_from = None if opts.deterministic or not self.lns else self.t0 + opts.full_fraction * limit
        status = self.full_solve(budget, stall_from)
        self.stats["full_status"] = status
        self.stats["full_s"] = round(self.elapsed(), 2)
        if status != "INFEASIBLE":
            self.stats["full_makespan"] = self.inc.makespan if self.inc else None
        return status

    def improve(self) -> None:
        """Phase 5: LNS from the incumbent, when it is on and there is room to improve."""
        rounds = improved = 0
        if self.lns and self.inc is not None and self.inc.makespan > self.lb:
            self.inc, rounds, improved = run_lns(
                self.problem, self.inc, self.lb, self.fixed, self.opts, self.elapsed, self.stats
            )
        self.stats.update({"lns_rounds": rounds, "lns_improved": improved})

    def full_solve(self, budget: float, stall_from: float | None) -> str:
        """CP-SAT on the whole model, hinted with the incumbent; updates the incumbent and the bound.

        ``stall_from``: stop once no solution improved for ``stall_fraction`` of the time, from then on.
        """
        problem, opts, inc = self.problem, self.opts, self.inc
        horizon = inc.makespan if inc else trivial_horizon(problem, self.fixed)
        jm = build_model(problem, horizon, self.fixed)
        jm.model.minimize(jm.makespan)
        add_hint(jm, inc.assignment() if inc else self.hint)
        solver = cp_model.CpSolver()
        params = {**FULL_PARAMS, **(opts.params or {})}
        configure(solver, budget, opts.workers, opts.seed, opts.deterministic, params)
        if stall_from is None:
            status = solver.solve(jm.model)
        else:
            status = solve_until_stall(solver, jm.model, stall_from, opts.stall_fraction * opts.time_limit_s)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.offer(Incumbent.of(problem, extract_solution(problem, jm, solver)))
        if status != cp_model.INFEASIBLE:
            self.lb = max(self.lb, int(solver.best_objective_bound))
        return str(solver.status_name(status))

    def infeasible(self) -> Solution:
        """The answer when CP-SAT proved that no schedule exists (frozen operations, power cap)."""
        return Solution(0, 0, "INFEASIBLE", self.elapsed(), (), self.stats)

    def result(self) -> Solution:
        """The incumbent as a checked :class:`Solution` (UNKNOWN and empty when there is none)."""
        inc, lb = self.inc, self.lb
        if inc is None:
            return Solution(0, lb, "UNKNOWN", self.elapsed(), (), self.stats)
        ops = tuple(sorted(inc.ops.values(), key=lambda s: (s.job, s.op)))
        status = "OPTIMAL" if inc.makespan <= lb else "FEASIBLE"
        sol = Solution(inc.makespan, min(lb, inc.makespan), status, self.elapsed(), ops, self.stats)
        check(self.problem, sol, self.fixed)
        return sol


def _scheduled(problem: Problem, assignment: Assignment) -> list[ScheduledOp | None]:
    """The hinted ops as scheduled ops; None for each that names no op or an ineligible machine."""
    out: list[ScheduledOp | None] = []
    for (j, o), (m, s) in assignment.items():
        if not (0 <= j < len(problem.jobs) and 0 <= o < len(problem.jobs[j])):
            out.append(None)
            continue
        opt = problem.option_on(j, o, m)
        out.append(ScheduledOp(j, o, m, s, s + opt.duration) if opt else None)
    return out
