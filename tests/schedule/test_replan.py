"""The plant CP-SAT model and re-planning: validity on generated problems, the frozen window, never worse
than keeping the old plan, determinism, and the demo demand drop."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from tests.conftest import DEMO_PLANT
from twin.config import load_plant
from twin.model import Plant
from twin.schedule.plant.model import Scheduled, evaluate, solve_plant, validate
from twin.schedule.plant.problem import Fixed, Mode, PlantLot, PlantProblem, Resource, Weights, Window
from twin.schedule.plant.replan import ReplanConfig, replan
from twin.schedule.plant.resources import dedicated_policy

pytestmark = pytest.mark.timeout(120)

MONDAY_6 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp()


def generated_problem(seed: int, *, power_cap: bool = False, frozen: bool = False) -> PlantProblem:
    """A random plant-like problem: 2-4 resources with 1-2 windows, 2-3 models, 6-12 lots, some chains."""
    rng = random.Random(seed)
    models = [f"M{i}" for i in range(rng.randint(2, 3))]
    resources: dict[str, Resource] = {}
    for r in range(rng.randint(2, 4)):
        split = rng.randint(3000, 5000)
        wins = (Window(0, split, "a"), Window(split + rng.choice((0, 600)), 9000, "b"))
        resources[f"R{r}"] = Resource(
            id=f"R{r}", kind="line", line=f"R{r}", stations=(f"R{r}-S",), run_kw=rng.choice((100, 150, 200)),
            idle_kw=rng.choice((10, 20)), windows=wins[: rng.randint(1, 2)],
            initial_model=rng.choice([None, *models]),
        )  # fmt: skip
    modes: dict[str, dict[str, Mode]] = {}
    for m in models:
        for rid in rng.sample(sorted(resources), rng.randint(1, len(resources))):
            modes.setdefault(m, {})[rid] = Mode(
                rid, rng.randint(0, 200), rng.randint(40, 90), rng.uniform(1, 3)
            )
    lots: list[PlantLot] = []
    per_model: dict[str, int] = {}
    for i in range(rng.randint(6, 12)):
        m = rng.choice(models)
        idx = per_model.get(m, 0)
        per_model[m] = idx + 1
        preds = (lots[-1].id,) if lots and rng.random() < 0.25 else ()
        lots.append(
            PlantLot(
                f"{m}-{i}", m, rng.choice((5, 10)), idx, release=rng.choice((0, 0, 300)), predecessors=preds
            )
        )
    if frozen:
        first = lots[0]
        rid = sorted(modes[first.model])[0]
        lots[0] = PlantLot(first.id, first.model, first.quantity, first.index, release=0, fixed=Fixed(rid, 0))
    changeover = {(a, b): rng.choice((0, 120, 300)) for a in models for b in models if a != b}
    cap = max(r.run_kw for r in resources.values()) * 2 if power_cap else None
    return PlantProblem(
        origin=0.0, now=0, horizon=9000, resources=resources, modes=modes, changeover=changeover, lots=lots,
        demand={m: sum(lot.quantity for lot in lots if lot.model == m) for m in models}, power_cap_kw=cap,
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_generated_plans_are_valid(seed: int) -> None:
    pb = generated_problem(seed, power_cap=seed % 2 == 0, frozen=seed % 3 == 0)
    res = solve_plant(pb, time_limit_s=2.0, deterministic=False)
    assert res.status in ("OPTIMAL", "FEASIBLE")
    assert validate(pb, res.schedule) == []
    # The Python evaluation is the solver's objective, term by term.
    assert evaluate(pb, res.schedule).total == res.objective
    assert res.bound is not None and res.bound <= res.objective


def test_validator_catches_violations() -> None:
    pb = generated_problem(1, power_cap=True)
    res = solve_plant(pb, time_limit_s=2.0, deterministic=False)
    sched = list(res.schedule)
    a = sched[0]
    others_there = [s for s in sched if s.resource == a.resource and s.lot != a.lot]
    bad = [Scheduled(a.lot, a.model, a.quantity, a.resource, a.start + 1, a.end), *sched[1:]]
    assert any("duration" in e for e in validate(pb, bad))
    ineligible = [r for r in pb.resources if r not in pb.modes[a.model]]
    if ineligible:
        moved = [Scheduled(a.lot, a.model, a.quantity, ineligible[0], a.start, a.end), *sched[1:]]
        assert any("cannot build" in e for e in validate(pb, moved))
    if others_there:
        o = others_there[0]
        clash = [s if s.lot != o.lot else Scheduled(o.lot, o.model, o.quantity, o.resource, a.start,
                                                      a.start + o.end - o.start) for s in sched]  # fmt: skip
        assert validate(pb, clash)
    tight = PlantProblem(**{**pb.__dict__, "power_cap_kw": 1.0})
    assert any("peak power" in e for e in validate(tight, sched))


def test_precedence_and_release_are_kept() -> None:
    for seed in range(8):
        pb = generated_problem(seed)
        res = solve_plant(pb, time_limit_s=1.0, deterministic=False)
        at = {s.lot: s for s in res.schedule}
        for lot in pb.lots:
            if lot.id in at:
                assert at[lot.id].start >= lot.release
                for p in lot.predecessors:
                    assert p in at and at[p].end <= at[lot.id].start


def test_solver_is_deterministic_for_fixed_seed_and_workers() -> None:
    pb = generated_problem(5, power_cap=True)
    runs = [solve_plant(pb, time_limit_s=1.0, workers=2, seed=7, deterministic=True) for _ in range(2)]
    assert runs[0].schedule == runs[1].schedule and runs[0].objective == runs[1].objective


def test_power_cap_limits_concurrent_work() -> None:
    pb = generated_problem(3)
    free = solve_plant(pb, time_limit_s=1.0, deterministic=False)
    cap = min(r.run_kw for r in pb.resources.values())
    capped = PlantProblem(**{**pb.__dict__, "power_cap_kw": float(cap)})
    res = solve_plant(capped, time_limit_s=2.0, deterministic=False)
    assert validate(capped, res.schedule) == []
    for a in res.schedule:  # with the cap at one resource's rated power, nothing runs in parallel
        assert all(not (b.start < a.end and a.start < b.end) for b in res.schedule if b.lot != a.lot)
    assert free.status in ("OPTIMAL", "FEASIBLE")


# ------------------------------------------------------------------------------------------ re-planning
def _initial(plant: Plant, demand: dict[str, int], **kw: object) -> object:
    cfg = ReplanConfig(time_limit_s=2.0, deterministic=True, **kw)  # type: ignore[arg-type]
    return replan(plant, demand, current=None, now=MONDAY_6, config=cfg).plan


def test_frozen_window_is_respected(mini_plant: Plant) -> None:
    v1 = _initial(mini_plant, {"A": 100, "B": 200}, lot_size=10)
    v1.version = 1  # type: ignore[attr-defined]
    now, freeze = 1500, 600
    res = replan(
        mini_plant, {"A": 40, "B": 200}, current=v1, now=MONDAY_6 + now,  # type: ignore[arg-type]
        config=ReplanConfig(time_limit_s=2.0, freeze_s=freeze),
    )  # fmt: skip
    old = {a.lot: a for a in v1.assignments}  # type: ignore[attr-defined]
    new = {a.lot: a for a in res.plan.assignments}
    frozen = [lot for lot, a in old.items() if a.start_s < now + freeze]
    assert frozen and sorted(frozen) == res.plan.meta["frozen"]
    for lot in frozen:
        assert (new[lot].resource, new[lot].start_s, new[lot].quantity) == (
            old[lot].resource, old[lot].start_s, old[lot].quantity,
        )  # fmt: skip
    for lot, a in new.items():
        if lot not in frozen:
            assert a.start_s >= now  # nothing new starts in the past
    assert validate(res.problem, res.schedule) == []
    assert res.plan.kpis["unmet"] == 0
    assert sum(a.quantity for a in res.plan.assignments if a.model == "A") == 40


def test_never_worse_than_keeping_the_old_plan(mini_plant: Plant) -> None:
    v1 = _initial(mini_plant, {"A": 60, "B": 120}, lot_size=10)
    for demand in ({"A": 60, "B": 120}, {"A": 20, "B": 120}, {"A": 60, "B": 40}, {"A": 0, "B": 130}):
        res = replan(mini_plant, demand, current=v1, now=MONDAY_6 + 1800,  # type: ignore[arg-type]
                     config=ReplanConfig(time_limit_s=1.0))  # fmt: skip
        assert res.baseline_score is not None
        assert res.score.total <= res.baseline_score.total
        assert validate(res.problem, res.schedule) == []
    # Nothing changed: the old plan is kept as it is (the re-plan cannot beat it, stability included).
    same = replan(mini_plant, {"A": 60, "B": 120}, current=v1, now=MONDAY_6 + 1800,  # type: ignore[arg-type]
                  config=ReplanConfig(time_limit_s=1.0))  # fmt: skip
    assert same.kept_old
    kept = {(a.lot, a.resource, a.start_s) for a in same.plan.assignments}
    assert kept == {(a.lot, a.resource, a.start_s) for a in v1.assignments}  # type: ignore[attr-defined]


def test_time_out_falls_back_to_the_kept_plan(mini_plant: Plant) -> None:
    v1 = _initial(mini_plant, {"A": 60, "B": 120}, lot_size=10)
    # A deterministic budget too small to find anything: the kept plan is the fallback.
    res = replan(mini_plant, {"A": 30, "B": 120}, current=v1, now=MONDAY_6 + 1800,  # type: ignore[arg-type]
                 config=ReplanConfig(time_limit_s=0.0, deterministic=True))  # fmt: skip
    assert res.baseline_score is not None and res.score.total <= res.baseline_score.total
    assert validate(res.problem, res.schedule) == []
    assert res.plan.kpis["unmet"] == 0


def test_replan_is_deterministic(mini_plant: Plant) -> None:
    v1 = _initial(mini_plant, {"A": 60, "B": 120}, lot_size=10)
    cfg = ReplanConfig(time_limit_s=1.0, deterministic=True, seed=3)
    a, b = (replan(mini_plant, {"A": 30, "B": 150}, current=v1, now=MONDAY_6 + 900,  # type: ignore[arg-type]
                   config=cfg) for _ in range(2))  # fmt: skip
    assert a.plan.assignments == b.plan.assignments


def test_demo_demand_drop_beats_keeping_the_plan() -> None:
    demo = load_plant(DEMO_PLANT)
    demand = dict(demo.demand)
    v1 = _initial(demo, demand, allowed=dedicated_policy(demo, demand))
    demand["EV-SUV"] = round(demand["EV-SUV"] * 0.4)
    res = replan(demo, demand, current=v1, now=MONDAY_6 + 3600,  # type: ignore[arg-type]
                 config=ReplanConfig(time_limit_s=2.0))  # fmt: skip
    assert res.baseline_plan is not None
    before, after = res.baseline_plan.kpis, res.plan.kpis
    assert after["unmet"] == 0
    assert after["kwh_per_vehicle"] < before["kwh_per_vehicle"]
    assert after["dedicated_idle_h"]["L1"] < before["dedicated_idle_h"]["L1"]
    assert validate(res.problem, res.schedule) == []
    assert Weights().unmet_car > Weights().kwh  # priorities as documented


def test_plan_made_before_its_shift_stays_current(mini_plant: Plant) -> None:
    night = MONDAY_6 - 3 * 3600
    v1 = replan(
        mini_plant, {"A": 40, "B": 40}, current=None, now=night, config=ReplanConfig(time_limit_s=1.0)
    )
    assert v1.plan.meta["origin"] == MONDAY_6 and v1.plan.meta["now_s"] == 0
    res = replan(mini_plant, {"A": 20, "B": 40}, current=v1.plan, now=night + 3600,
                 config=ReplanConfig(time_limit_s=1.0))  # fmt: skip
    assert res.plan.meta["origin"] == MONDAY_6 and res.baseline is not None
    assert res.score.total <= res.baseline_score.total  # type: ignore[union-attr]


def test_fault_moves_work_off_the_broken_line(mini_plant: Plant) -> None:
    v1 = _initial(mini_plant, {"A": 40, "B": 200}, lot_size=10)
    on_l2 = [a for a in v1.assignments if a.resource == "L2"]  # type: ignore[attr-defined]
    assert on_l2
    fault = [{"id": "L2-PAINT", "state": "Fault"}]
    res = replan(mini_plant, {"A": 40, "B": 200}, current=v1, now=MONDAY_6 + 600,  # type: ignore[arg-type]
                 status=fault, config=ReplanConfig(time_limit_s=1.0))  # fmt: skip
    frozen = set(res.plan.meta["frozen"])
    assert all(a.lot in frozen for a in res.plan.assignments if a.resource == "L2")
    assert res.baseline_score is not None and res.score.total <= res.baseline_score.total
    assert res.plan.kpis["unmet"] <= res.baseline_score.unmet_cars
    assert validate(res.problem, res.schedule) == []


SIGINT_AFTER_SOLVE = """
import os, signal
from tests.schedule.test_replan import generated_problem
from twin.schedule.plant.model import solve_plant
caught = []
signal.signal(signal.SIGINT, lambda s, f: caught.append(s))
solve_plant(generated_problem(3), time_limit_s=2.0, workers=2, seed=1)
os.kill(os.getpid(), signal.SIGINT)  # Python runs its handler before the next bytecode, or SIG_DFL kills us
print("caught" if caught else "missed")
"""


def test_ctrl_c_after_a_solve_reaches_the_callers_handler() -> None:
    # CP-SAT swaps the C-level SIGINT handler and leaves SIG_DFL behind unless told not to catch SIGINT:
    # a service's next Ctrl-C would then kill it instead of stopping it cleanly.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", SIGINT_AFTER_SOLVE], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert out.returncode == 0 and out.stdout.strip() == "caught", (out.returncode, out.stderr[-500:])


def test_oversized_lot_request_is_capped_and_the_plan_says_so() -> None:
    """``--lot-size`` too big for a shift: the re-plan caps it (a note in the plan) and meets the demand."""
    demo = load_plant(DEMO_PLANT)
    res = replan(demo, {"HATCH": 1000}, current=None, now=MONDAY_6,
                 config=ReplanConfig(time_limit_s=2.0, lot_size=1000, deterministic=True))  # fmt: skip
    assert res.plan.kpis["unmet"] == 0
    assert [n.split(" capped")[0] for n in res.plan.meta["notes"]] == ["HATCH: lot size 1000"]
    assert validate(res.problem, res.schedule) == []


def test_a_fresh_plan_made_late_in_a_shift_looks_a_whole_horizon_ahead(mini_plant: Plant) -> None:
    # 11:00 on Monday: the plan's origin is the shift's start (06:00). From the origin alone its 24 h horizon
    # held 3 h of work time and the mini plant's demand did not fit (a CI run after 10:50 UTC failed on it).
    late = MONDAY_6 + 5 * 3600
    cfg = ReplanConfig(time_limit_s=2.0)
    res = replan(mini_plant, mini_plant.demand, current=None, now=late, config=cfg)
    assert res.plan.meta["origin"] == MONDAY_6
    assert res.plan.meta["horizon_s"] == 5 * 3600 + 24 * 3600
    assert res.plan.kpis["unmet"] == 0
    # A re-plan that keeps this origin keeps the horizon the plan was made with.
    again = replan(mini_plant, mini_plant.demand, current=res.plan, now=late + 600, config=cfg)
    assert again.plan.meta["origin"] == MONDAY_6 and again.plan.meta["horizon_s"] == 29 * 3600
