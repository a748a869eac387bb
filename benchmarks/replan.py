"""``twin bench replan``: the demo demand-drop scenario end to end, plus generated plant-like instances.

Demo: the plant is loaded into a (real) Redis; plan v1 is made the classic way (each dedicated line builds
only its home model) and stored; then the home model's demand drops by ``drop`` (60 %). The re-planner
detects it (threshold), re-plans from v1 at one hour into the first shift (frozen window, warm start,
never worse), checks the plan in simulation and stores v2. The baseline measured in the same run is
*keeping v1* (trimmed to the new demand, its lines staying powered in their shifts).

Energy (``energy_scenario``): the same demand drop from the same plan v1, re-planned twice in the same run:
*plain* (objective "energy", no cap: the re-plan without energy terms) and *energy* (objective "cost"
under the demo's tariff, power cap at 85 % of the plain plan's peak). Peaks are compared over the time the
cap holds (``cap_from_s``: the frozen work in progress at the re-plan, planned before the cap, runs all
three areas at once until then); costs over the whole plan. The energy plan is checked in simulation.

Instances: flexible job shops shaped like the plant (lots visiting body, paint, assembly and final stages,
each on a line station or one of several slower cells, with rated power and a plant power cap),
generated here with a fixed seed and solved by :func:`benchmarks.jobshop.run_instances` (our model
against plain CP-SAT and the greedy list schedule).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.jobshop import run_instances
from twin.model import Plan, Plant
from twin.schedule.plant.check import check_plan_in_sim
from twin.schedule.plant.energy import energy_kpis
from twin.schedule.plant.plans import plan_kpis
from twin.schedule.plant.replan import ReplanConfig, replan
from twin.schedule.plant.resources import dedicated_policy
from twin.schedule.plant.trigger import Replanner, TriggerConfig
from twin.store import TwinStore

#: The demo's plan origin: a Monday, start of the early shift (fixed, so runs compare).
DEMO_ORIGIN = datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp()


def home_model(plant: Plant) -> tuple[str, str]:
    """The first dedicated line and the model it is built around."""
    policy = dedicated_policy(plant, plant.demand)
    if not policy:
        raise ValueError(f"plant {plant.id!r} has no dedicated line")
    line = sorted(policy)[0]
    return line, policy[line][0]


def demo_scenario(
    store: TwinStore,
    plant: Plant,
    *,
    drop: float = 0.6,
    time_limit_s: float = 3.0,
    seeds: tuple[int, ...] = (0, 1, 2),
    at_s: int = 3600,
) -> dict[str, Any]:
    """Run the demand-drop scenario against ``store`` (plant loaded there); returns the bench figures."""
    line, model = home_model(plant)
    demand = store.demand() or dict(plant.demand)
    v1 = initial_plan(plant, demand, time_limit_s)
    base = store.put_plan(v1)
    new_qty = round(demand[model] * (1.0 - drop))
    store.set_demand(model, new_qty, actor="bench")
    clock_now = DEMO_ORIGIN + at_s
    rp = Replanner(
        store,
        config=TriggerConfig(
            threshold=0.1,
            replan=ReplanConfig(time_limit_s=time_limit_s, workers=2),
            check_seeds=seeds,
            actor="bench",
        ),
        clock=lambda: clock_now,
    )
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0, c0 = time.perf_counter(), time.process_time()
    changed = rp.pending()
    out = rp.replan_once(f"demand changed: {', '.join(changed)}")
    replan_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    if out.result is None or out.plan is None:
        raise RuntimeError("the re-planner stored nothing")
    before = out.result.baseline_plan.kpis if out.result.baseline_plan else plan_kpis(plant, v1)
    after = out.plan.kpis
    solve = out.result.solve
    return {
        "replan_s": round(replan_s, 3),
        # CPU seconds of this process (all threads): what the re-plan costs on an idle machine.
        "replan_cpu_s": round(cpu_s, 3),
        "unmet_before": before["unmet"],
        "unmet_after": after["unmet"],
        "kwh_per_vehicle_before": before["kwh_per_vehicle"],
        "kwh_per_vehicle_after": after["kwh_per_vehicle"],
        "dedicated_line_idle_before": before["dedicated_idle_h"].get(line),
        "dedicated_line_idle_after": after["dedicated_idle_h"].get(line),
        "dedicated_line": line,
        "model": model,
        "demand_before": demand[model],
        "demand_after": new_qty,
        "detected": changed,
        "versions": [base, out.version],
        "kept_old": out.kept_old,
        "solver_status": solve.status if solve else None,
        "gap": solve.gap if solve else None,
        "solve_s": solve.wall_s if solve else None,
        "check_s": out.check.get("wall_s") if out.check else None,
        "load1": round(load1, 2) if load1 is not None else None,
        "check": out.check,
        "energy_kwh_before": before["energy_kwh"],
        "energy_kwh_after": after["energy_kwh"],
        "kwh_per_vehicle_ratio": round(after["kwh_per_vehicle"] / before["kwh_per_vehicle"], 4)
        if before["kwh_per_vehicle"]
        else None,
        "baseline": "keep plan v1 trimmed to the new demand",
        "moved_lots": len(out.plan.meta.get("dropped", [])),
    }


def initial_plan(plant: Plant, demand: dict[str, int], time_limit_s: float) -> Plan:
    """Plan v1 of the demo, the classic way (each dedicated line builds only its home model)."""
    cfg = ReplanConfig(time_limit_s=time_limit_s, deterministic=True, allowed=dedicated_policy(plant, demand))
    reason = "initial plan (dedicated lines build their own model)"
    return replan(plant, demand, current=None, now=DEMO_ORIGIN, config=cfg, reason=reason).plan


def energy_scenario(
    plant: Plant,
    *,
    drop: float = 0.6,
    cap_share: float = 0.85,
    time_limit_s: float = 3.0,
    seeds: tuple[int, ...] = (0, 1, 2),
    at_s: int = 3600,
) -> dict[str, Any]:
    """The demand drop re-planned without and with energy terms (see the module docstring)."""
    _line, model = home_model(plant)
    demand = dict(plant.demand)
    v1 = initial_plan(plant, demand, time_limit_s)
    v1.version = 1
    demand[model] = round(demand[model] * (1.0 - drop))
    now = DEMO_ORIGIN + at_s
    plain_cfg = ReplanConfig(time_limit_s=time_limit_s, workers=2, objective="energy", no_power_cap=True)
    plain = replan(plant, demand, current=v1, now=now, config=plain_cfg).plan
    cap = round(cap_share * plain.kpis["energy"]["peak_kw"])
    energy_cfg = ReplanConfig(time_limit_s=time_limit_s, workers=2, objective="cost", power_cap_kw=cap)
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    res = replan(plant, demand, current=v1, now=now, config=energy_cfg)
    check = check_plan_in_sim(plant, res.plan, seeds=seeds)
    replan_s = time.perf_counter() - t0
    since = float(res.plan.meta["energy"]["cap_from_s"])
    kp, ke = energy_kpis(plant, plain, since_s=since), energy_kpis(plant, res.plan, since_s=since)
    return {
        "cap_kw": cap,
        "peak_kw_plain": kp["peak_kw_since"],
        "peak_kw_energy": ke["peak_kw_since"],
        "sim_peak_15min_kw_energy": max(check.peak_kw_15min_since),
        "cost_plain": kp["cost"],
        "cost_energy": ke["cost"],
        "unmet_plain": plain.kpis["unmet"],
        "unmet_energy": res.plan.kpis["unmet"],
        "replan_s_energy": round(replan_s, 3),
        "cap_from_s": since,
        "peak_kw_plain_whole_plan": kp["peak_kw"],
        "peak_kw_energy_whole_plan": ke["peak_kw"],
        "peak_kw_15min_plain": kp["peak_kw_15min_since"],
        "peak_kw_15min_energy": ke["peak_kw_15min_since"],
        "sim_peak_15min_kw_energy_seeds": check.peak_kw_15min_since,
        "sim_cap_ok": not check.cap_broken_seeds,
        "sim_meets_demand": check.meets_demand,
        "kwh_plain": kp["kwh"],
        "kwh_energy": ke["kwh"],
        "kwh_by_period_plain": kp["kwh_by_period"],
        "kwh_by_period_energy": ke["kwh_by_period"],
        "demand_charge_plain": kp["demand_charge"],
        "demand_charge_energy": ke["demand_charge"],
        "co2_kg_plain": kp["co2_kg"],
        "co2_kg_energy": ke["co2_kg"],
        "currency": ke["currency"],
        "peak_cut": round(1 - ke["peak_kw_since"] / kp["peak_kw_since"], 4) if kp["peak_kw_since"] else None,
        "cost_cut": round(1 - ke["cost"] / kp["cost"], 4) if kp["cost"] else None,
        "solver_status_energy": res.solve.status if res.solve else None,
        "switched_off_hours": len(res.solve.off) if res.solve else 0,
        "check_s": check.wall_s,
        "load1": round(load1, 2) if load1 is not None else None,
        "baseline": "plain: the same re-plan with objective energy (kWh) and no cap",
    }


# ------------------------------------------------------------------------------------------- instances
def plant_like_fjsp(n_lots: int, seed: int, *, cells: int = 3, power_cap: bool = True) -> Any:
    """A flexible job shop shaped like the demo plant (see the module docstring), as a :class:`Problem`.

    Machines per stage: two line stations (fast) and ``cells`` cells (slower; a cell may serve several
    stages). Lots of 5-20 cars of 4 models; the hatchback cannot use the dedicated line (machine 0 of each
    stage), one model cannot use the cells.
    """
    from twin.schedule.jobshop.instances import Operation, Option, Problem

    rng = random.Random(seed)
    stages = 4
    line_kw = [(420, 400), (700, 680), (180, 170), (70, 60)]
    cell_kw = [200, 340, 45, 30]
    machines = 2 * stages + cells
    jobs = []
    for _lot in range(n_lots):
        model = rng.randrange(4)
        q = rng.choice((5, 10, 10, 15, 20))
        ops = []
        for s in range(stages):
            base = rng.randint(50, 75)
            opts = []
            for k in range(2):
                if model == 3 and k == 0:
                    continue  # the hatchback is not built on the dedicated line
                opts.append(Option(machine=2 * s + k, duration=q * base, power=line_kw[s][k]))
            if model != 2:
                for c in range(cells):
                    if (c + s) % 2 == 0 or cells == 1:
                        opts.append(
                            Option(
                                machine=2 * stages + c,
                                duration=int(q * base * rng.uniform(1.3, 1.7)),
                                power=cell_kw[s],
                            )
                        )
            ops.append(Operation(options=tuple(opts)))
        jobs.append(tuple(ops))
    cap = int(sum(kw for kw, _ in line_kw) * 1.1) if power_cap else None
    return Problem(
        jobs=tuple(jobs), n_machines=machines, name=f"plant-{n_lots}x{machines}-s{seed}", power_cap=cap
    )


def generated_instances(quick: bool) -> list[Any]:
    """The instance set of the bench (smaller with ``quick``)."""
    sizes = [(12, 1), (20, 2)] if quick else [(12, 1), (20, 2), (30, 3), (40, 4)]
    return [plant_like_fjsp(n, seed) for n, seed in sizes]


def to_fjs(problem: Any) -> str:
    """An instance in Brandimarte ``.fjs`` text (1-based machines; power is not part of the format)."""
    lines = [f"{len(problem.jobs)} {problem.n_machines}"]
    for job in problem.jobs:
        parts = [str(len(job))]
        for op in job:
            parts.append(str(len(op.options)))
            for o in op.options:
                parts += [str(o.machine + 1), str(o.duration)]
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def run_generated(quick: bool, time_limit_s: float) -> list[dict[str, Any]]:
    """Solve the generated instances with the standard-instance bench runner, via ``.fjs`` files."""
    with tempfile.TemporaryDirectory(prefix="sdf-replan-bench-") as tmp:
        files = []
        for p in generated_instances(quick):
            path = Path(tmp) / f"{p.name}.fjs"
            path.write_text(to_fjs(p), encoding="utf-8")
            files.append(path)
        return run_instances(files, time_limit=time_limit_s, quick=quick)
