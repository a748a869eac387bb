"""Re-planning: frozen window, warm start from the current plan, never worse than keeping it.

``replan(plant, demand, current=..., now=...)``:

1. keeps the current plan's time origin (its t=0) while ``now`` is inside its horizon;
2. freezes every lot of the current plan that started or starts within ``freeze_s`` (work in progress and
   the next minutes stay where they are and count towards demand);
3. trims the rest of the current plan to the new demand: per model, its lots in start order are kept until
   the demand is covered (the last one shortened), the others are dropped. That *kept plan* is a valid
   schedule of the new problem, evaluated with the old plan's powered shifts (left alone, the lines keep
   running the shifts they were staffed for);
4. solves the new problem with CP-SAT, hinted with the kept plan, stability measured against it;
5. returns the solver's plan only if its objective beats the kept plan's, else the kept plan itself: the
   result is never worse than leaving the plan alone, and a time-out still has the kept plan as fallback.

The energy settings (power cap, objective) come from the config, else the plant file's ``energy`` section
(:mod:`twin.schedule.plant.energychoice`); the plan records them in ``meta["energy"]``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.errors import TwinError
from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.build import build_problem
from twin.schedule.plant.energychoice import (
    EnergyChoice,
    apply_energy,
    energy_meta,
    minus,
    resolve_energy,
    staged_solve,
)
from twin.schedule.plant.model import Scheduled, Score, SolveResult, evaluate, validate
from twin.schedule.plant.model.pricing import off_blocks_of
from twin.schedule.plant.plans import plan_kpis
from twin.schedule.plant.problem import PlantProblem, Weights, choose_origin, plan_origin, shift_windows
from twin.schedule.plant.resources import DEFAULT_AGV_TRANSFER_S, dedicated_policy, plant_resources

__all__ = [
    "ReplanConfig",
    "ReplanError",
    "ReplanResult",
    "derive_powered",
    "plan_schedule",
    "powered_windows",
    "replan",
    "to_plan",
]


class ReplanError(TwinError):
    """No acceptable plan could be produced (e.g. nothing feasible and no plan to keep)."""


@dataclass
class ReplanConfig:
    """Knobs of a re-plan (the CLI and the service fill them from options)."""

    freeze_s: int = 900
    lot_size: int | None = None
    time_limit_s: float = 3.0
    workers: int = 2
    seed: int = 0
    deterministic: bool = False
    #: The power cap (kW); None: the plant file's contract demand (``energy.contract_kw``), if it has one.
    power_cap_kw: float | None = None
    horizon_s: int | None = None
    weights: Weights = field(default_factory=Weights)
    allowed: Mapping[str, Sequence[str]] | None = None
    #: With no current plan, plan the classic way (each dedicated line builds only its home model): the
    #: plant's starting point; every re-plan after that is free to use the lines flexibly.
    first_plan_dedicated: bool = True
    #: One AGV trip in cell blocks (seconds): the plan check simulates with the same default.
    agv_transfer_s: float = DEFAULT_AGV_TRANSFER_S
    #: Plan without a power cap, even if the plant file has a contract demand.
    no_power_cap: bool = False
    #: "cost", "energy" or "time" (:class:`twin.model.Objective`); None: the plant file's default.
    objective: str | None = None


@dataclass
class ReplanResult:
    """The chosen plan and how it was chosen."""

    plan: Plan
    kept_old: bool
    problem: PlantProblem
    schedule: list[Scheduled]
    score: Score
    baseline: list[Scheduled] | None
    baseline_score: Score | None
    baseline_plan: Plan | None
    solve: SolveResult | None
    wall_s: float


def plan_schedule(plan: Plan) -> list[Scheduled]:
    """A plan's lots as scheduled items (times are seconds from the plan's origin)."""
    out: list[Scheduled] = []
    for i, a in enumerate(plan.assignments):
        out.append(
            Scheduled(a.lot or f"lot-{i}", a.model, a.quantity, a.resource, round(a.start_s), round(a.end_s))
        )
    return out


def powered_windows(plan: Plan) -> list[tuple[str, int, int]]:
    """The (resource, start, end) shift windows a plan keeps powered."""
    raw = plan.meta.get("powered") or []
    return [(str(r), int(a), int(b)) for r, a, b in raw]


def derive_powered(
    plant: Plant, origin: float, horizon_s: int, schedule: Sequence[Scheduled]
) -> list[tuple[str, int, int]]:
    """The full shift windows in which each resource has work."""
    wins = shift_windows(plant, origin, horizon_s)
    out: set[tuple[str, int, int]] = set()
    for s in schedule:
        for w in wins:
            if s.start < w.end and s.end > w.start:
                out.add((s.resource, w.start, w.end))
    return sorted(out)


def to_plan(
    plant: Plant,
    problem: PlantProblem,
    schedule: Sequence[Scheduled],
    *,
    reason: str,
    meta: dict[str, Any],
    powered: Sequence[tuple[str, int, int]] | None = None,
) -> Plan:
    """A plan document (with KPIs) from a schedule."""
    items = sorted(schedule, key=lambda s: (s.start, s.resource, s.lot))
    assignments = [
        PlanAssignment(
            resource=s.resource,
            model=s.model,
            quantity=s.quantity,
            start_s=float(s.start),
            end_s=float(s.end),
            lot=s.lot,
            operation="build",
        )
        for s in items
    ]
    pw = (
        list(powered)
        if powered is not None
        else derive_powered(plant, problem.origin, problem.horizon, items)
    )
    full_meta = {
        "origin": problem.origin,
        "now_s": problem.now,
        "horizon_s": problem.horizon,
        "powered": [list(p) for p in pw],
        **meta,
    }
    plan = Plan(reason=reason, demand=dict(problem.demand), assignments=assignments, meta=full_meta)
    plan.kpis = plan_kpis(plant, plan)
    return plan


def _trim(
    old: Sequence[Scheduled], demand: Mapping[str, int], now: int, freeze_s: int
) -> tuple[list[Scheduled], dict[str, list[Scheduled]]]:
    """Split the old schedule into frozen lots and, per model, the kept (trimmed) rest in start order."""
    frozen = [s for s in old if s.start < now + freeze_s]
    frozen_qty: dict[str, int] = defaultdict(int)
    for s in frozen:
        frozen_qty[s.model] += s.quantity
    kept: dict[str, list[Scheduled]] = {}
    rest = sorted((s for s in old if s.start >= now + freeze_s), key=lambda s: (s.start, s.resource, s.lot))
    for model in demand:
        left = max(0, demand[model] - frozen_qty[model])
        mine: list[Scheduled] = []
        for s in (x for x in rest if x.model == model):
            if left <= 0:
                break
            q = min(s.quantity, left)
            mine.append(Scheduled(s.lot, s.model, q, s.resource, s.start, s.end))
            left -= q
        kept[model] = mine
    return frozen, kept


def _frame(
    plant: Plant, current: Plan | None, now: float, cfg: ReplanConfig
) -> tuple[float, int, Plan | None]:
    """The plan's time origin and horizon, and the current plan if it still applies (else None)."""
    base = int(cfg.horizon_s if cfg.horizon_s is not None else plant.calendar.horizon_hours * 3600)
    origin = plan_origin(current) if current is not None else None
    # A kept origin keeps the horizon its plan was made with, so the old and new plans compare like with like.
    made_with = current.meta.get("horizon_s") if current is not None else None
    horizon = int(made_with) if isinstance(made_with, int) and made_with >= base else base
    if origin is None or now - origin >= horizon:
        # No plan, or one without a time origin (a default sequence) or past its horizon: start afresh.
        # (A plan whose origin is still ahead, e.g. made at night for the morning shift, stays current.)
        origin, current = choose_origin(plant, now), None
        # The origin is the running shift's start: a fresh plan made late in a shift still looks a whole
        # horizon ahead of now (from the origin alone, a re-plan at 11:00 saw 3 h of work time, not 27 h).
        horizon = base + max(0, int(now - origin))
    return origin, horizon, current


def _new_problem(
    plant: Plant,
    demand: Mapping[str, int],
    cfg: ReplanConfig,
    origin: float,
    horizon: int,
    now_s: int,
    status: Sequence[Mapping[str, Any]],
    old: Sequence[Scheduled],
    frozen: Sequence[Scheduled],
    kept: Mapping[str, Sequence[Scheduled]],
    allowed: Mapping[str, Sequence[str]] | None,
    energy: EnergyChoice,
) -> PlantProblem:
    """The problem to re-plan: frozen lots fixed, the kept lots' ids and sizes reused, the old plan's lot
    size (unless one is configured), its set-ups and idle resources; the energy settings (which refuse a
    cap below the plant's minimum powered load before any solve)."""
    old_sizes = sorted((s.quantity for s in old), reverse=True)
    problem = build_problem(
        plant,
        demand,
        origin=origin,
        now=now_s,
        horizon_s=horizon,
        lot_size=cfg.lot_size or (old_sizes[0] if old_sizes else None),
        status=status,
        frozen=[(s.lot, s.model, s.quantity, s.resource, s.start) for s in frozen],
        initial_models=_setups(old, now_s),
        idle_in_plan=_idle_now(plant, old, now_s),
        power_cap_kw=energy.power_cap_kw,
        weights=cfg.weights,
        quantities={m: [(s.lot, s.quantity) for s in lots] for m, lots in kept.items()},
        allowed=allowed,
        agv_transfer_s=cfg.agv_transfer_s,
    )
    apply_energy(problem, plant, energy)
    return problem


def _mapped(
    problem: PlantProblem, frozen: Sequence[Scheduled], kept: Mapping[str, Sequence[Scheduled]]
) -> list[Scheduled]:
    """The kept plan as a schedule of the new problem: the frozen lots, and the kept lots mapped onto the
    new lots (same model, same order), which also become the problem's reference."""
    baseline = [Scheduled(s.lot, s.model, s.quantity, s.resource, s.start, s.end) for s in frozen]
    new_lots: dict[str, list[str]] = defaultdict(list)
    for lot in problem.lots:
        if lot.fixed is None:
            new_lots[lot.model].append(lot.id)
    for model, lots in kept.items():
        for s, lot_id in zip(lots, new_lots.get(model, []), strict=False):
            lot = problem.lot(lot_id)
            mode = problem.modes.get(model, {}).get(s.resource)
            problem.reference[lot_id] = (s.resource, s.start)
            if mode is not None:
                end = s.start + mode.duration(lot.quantity)
                baseline.append(Scheduled(lot_id, model, lot.quantity, s.resource, s.start, end))
    return baseline


def _baseline(problem: PlantProblem, baseline: list[Scheduled]) -> list[Scheduled] | None:
    """The mapped kept plan if it is valid (less the lots that no longer fit); None if it is invalid (a
    power cap it breaks, say)."""
    if validate(problem, baseline):
        # Part of the old plan no longer fits (a fault, a station switched off): keep the rest.
        baseline = [b for b in baseline if _fits_alone(problem, b)]
        if validate(problem, baseline):
            return None
    return baseline


def _meta(
    cfg: ReplanConfig,
    result: SolveResult,
    problem: PlantProblem,
    old: Sequence[Scheduled],
    frozen: Sequence[Scheduled],
    kept: Mapping[str, Sequence[Scheduled]],
    *,
    base_version: int | None,
    baseline_score: Score | None,
    allowed: Mapping[str, Sequence[str]] | None,
    energy: EnergyChoice,
) -> dict[str, Any]:
    """The plan metadata of a re-plan: solver outcome, frozen and dropped lots, the problem."""
    kept_ids = {s.lot for lots in kept.values() for s in lots}
    return {
        "base_version": base_version,
        "freeze_s": cfg.freeze_s,
        "status": result.status,
        "gap": result.gap,
        "objective": result.objective,
        "bound": result.bound,
        "solve_s": result.wall_s,
        "solve_stats": result.stats,
        "seed": cfg.seed,
        "workers": cfg.workers,
        "deterministic": cfg.deterministic,
        "frozen": sorted(s.lot for s in frozen),
        "dropped": sorted({s.lot for s in old} - {s.lot for s in frozen} - kept_ids),
        "baseline_score": baseline_score.as_dict() if baseline_score else None,
        "problem": problem.describe(),
        "notes": list(problem.notes),
        "allowed": {r: list(ms) for r, ms in (allowed or {}).items()},
        "energy": energy_meta(problem, energy),
    }


def _solve(
    plant: Plant, problem: PlantProblem, cfg: ReplanConfig, hint: list[Scheduled] | None
) -> tuple[SolveResult, list[Scheduled] | None, Score | None, list[tuple[str, int, int]] | None]:
    """The solver's outcome, its schedule (None unless feasible and valid), that schedule's score and
    when it powers each resource (None: the shift windows that hold its lots)."""
    result = staged_solve(problem, cfg.time_limit_s, hint, workers=cfg.workers, seed=cfg.seed,
                          deterministic=cfg.deterministic)  # fmt: skip
    new_ok = result.schedule if result.status in ("OPTIMAL", "FEASIBLE") else None
    powered = None
    if new_ok is not None and result.off:  # hours switched off inside powered shifts
        powered = minus(derive_powered(plant, problem.origin, problem.horizon, new_ok), result.off)
    if new_ok is not None and validate(problem, new_ok, powered):
        new_ok = None  # defensive: never hand out an invalid plan
    score = evaluate(problem, new_ok, off=result.off) if new_ok is not None else None
    return result, new_ok, score, powered


def replan(
    plant: Plant,
    demand: Mapping[str, int],
    *,
    current: Plan | None,
    now: float,
    status: Sequence[Mapping[str, Any]] = (),
    config: ReplanConfig | None = None,
    reason: str = "re-plan",
    base_version: int | None = None,
) -> ReplanResult:
    """Re-plan for ``demand`` at epoch ``now`` from the ``current`` plan (see the module docstring)."""
    cfg = config or ReplanConfig()
    t0 = time.perf_counter()
    origin, horizon, current = _frame(plant, current, now, cfg)
    now_s = max(0, int(now - origin))
    old = plan_schedule(current) if current is not None else []
    frozen, kept = _trim(old, demand, now_s, cfg.freeze_s)
    allowed = cfg.allowed
    if allowed is None and current is None and cfg.first_plan_dedicated:
        allowed = dedicated_policy(plant, demand)
    energy = resolve_energy(
        plant, power_cap_kw=cfg.power_cap_kw, no_power_cap=cfg.no_power_cap, objective=cfg.objective
    )
    problem = _new_problem(
        plant, demand, cfg, origin, horizon, now_s, status, old, frozen, kept, allowed, energy
    )
    mapped, baseline, old_powered, baseline_score = _kept(plant, problem, current, frozen, kept)
    # An invalid kept plan (a cap it breaks) still hints the solver: it repairs it.
    result, new_ok, new_score, new_powered = _solve(plant, problem, cfg, baseline or mapped)
    meta = _meta(
        cfg,
        result,
        problem,
        old,
        frozen,
        kept,
        base_version=base_version,
        baseline_score=baseline_score,
        allowed=allowed,
        energy=energy,
    )
    keep = (
        baseline is not None
        and baseline_score is not None
        and (new_score is None or new_score.total >= baseline_score.total)
    )
    baseline_plan = (
        to_plan(plant, problem, baseline, reason="kept old plan", meta=dict(meta), powered=old_powered)
        if baseline is not None
        else None
    )
    if keep:
        assert baseline is not None and baseline_score is not None
        meta.update(kept_old=True, score=baseline_score.as_dict())
        plan = to_plan(
            plant, problem, baseline, reason=f"{reason} (old plan kept)", meta=meta, powered=old_powered
        )
        chosen, score = baseline, baseline_score
    elif new_ok is not None and new_score is not None:
        meta.update(kept_old=False, score=new_score.as_dict())
        plan = to_plan(plant, problem, new_ok, reason=reason, meta=meta, powered=new_powered)
        chosen, score = new_ok, new_score
    else:
        raise _no_plan(cfg, result, problem, mapped is not None)
    return ReplanResult(
        plan=plan,
        kept_old=keep,
        problem=problem,
        schedule=list(chosen),
        score=score,
        baseline=baseline,
        baseline_score=baseline_score,
        baseline_plan=baseline_plan,
        solve=result,
        wall_s=round(time.perf_counter() - t0, 4),
    )


def _kept(
    plant: Plant,
    problem: PlantProblem,
    current: Plan | None,
    frozen: Sequence[Scheduled],
    kept: Mapping[str, Sequence[Scheduled]],
) -> tuple[list[Scheduled] | None, list[Scheduled] | None, list[tuple[str, int, int]], Score | None]:
    """The kept plan mapped onto the new problem, the same if it is valid, its powered windows and score."""
    if current is None:
        return None, None, [], None
    mapped = _mapped(problem, frozen, kept)
    baseline = _baseline(problem, mapped)
    old_powered = powered_windows(current)
    if baseline is None:
        return mapped, None, old_powered, None
    if problem.power_cap_kw is not None and validate(problem, baseline, old_powered):
        # The cap leaves no room for lines idling through shifts they have no work in: switch those off.
        old_powered = derive_powered(plant, problem.origin, problem.horizon, baseline)
    score = evaluate(problem, baseline, old_powered, off_blocks_of(problem, baseline, old_powered))
    return mapped, baseline, old_powered, score


def _no_plan(cfg: ReplanConfig, result: SolveResult, problem: PlantProblem, had_plan: bool) -> ReplanError:
    why = "the current plan cannot be kept as it is" if had_plan else "no current plan to keep"
    if had_plan and problem.power_cap_kw is not None:
        why += f" (it may break the {problem.power_cap_kw:g} kW power cap)"
    return ReplanError(
        f"no feasible plan found in {cfg.time_limit_s:g} s (solver status {result.status}) and {why}: "
        "raise the time limit or check faults and the calendar"
    )


def _fits_alone(problem: PlantProblem, s: Scheduled) -> bool:
    """A lot of the old plan that could stay as it is: frozen, or eligible, released and inside a window."""
    lot = problem.lot(s.lot)
    if lot.fixed is not None:
        return True
    if s.resource not in problem.eligible(lot) or s.start < lot.release:
        return False
    return any(w.start <= s.start and s.end <= w.end for w in problem.resources[s.resource].windows)


def _setups(old: Sequence[Scheduled], now: int) -> dict[str, str]:
    """The model each resource is set up for at ``now``: its last lot started before then."""
    out: dict[str, tuple[int, str]] = {}
    for s in old:
        if s.start <= now and (s.resource not in out or s.start > out[s.resource][0]):
            out[s.resource] = (s.start, s.model)
    return {r: m for r, (_t, m) in out.items()}


def _idle_now(plant: Plant, old: Sequence[Scheduled], now: int) -> set[str]:
    """Resources the current plan (if any) leaves without work at ``now``: an Off state there is the plan's
    doing (or nobody's yet), not an operator's, so the new plan may switch them on."""
    busy = {s.resource for s in old if s.start <= now < s.end}
    return {rid for rid, _k, _l, _s in plant_resources(plant)} - busy
