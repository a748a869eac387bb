"""Problem building from the plant and the live twin: resources, modes, calendar, faults, lots."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import DEMO_PLANT
from twin.config import load_plant
from twin.errors import ValidationError
from twin.model import Plan, PlanAssignment, Plant
from twin.schedule.plant.build import build_problem
from twin.schedule.plant.lots import auto_lot_size, split_lots
from twin.schedule.plant.model import evaluate, solve_plant
from twin.schedule.plant.problem import choose_origin, shift_windows
from twin.schedule.plant.resources import DEFAULT_AGV_TRANSFER_S, dedicated_policy, plant_resources
from twin.sim import FlowSim, SimOptions

pytestmark = pytest.mark.timeout(60)

MONDAY_6 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC).timestamp()


def test_resources_are_lines_and_universal_cells(mini_plant: Plant) -> None:
    res = {rid: (kind, line, st) for rid, kind, line, st in plant_resources(mini_plant)}
    assert res == {
        "L1": ("line", "L1", ["L1-WELD", "L1-PAINT", "L1-ASSY"]),
        "L2": ("line", "L2", ["L2-WELD", "L2-PAINT", "L2-ASSY"]),
        "C-1": ("cell", "C", ["C-1"]),
        "C-2": ("cell", "C", ["C-2"]),
    }


def test_specialised_cell_block_is_one_resource() -> None:
    demo = load_plant(DEMO_PLANT)
    kinds = {rid: kind for rid, kind, _l, _s in plant_resources(demo)}
    assert kinds == {"L1": "line", "L2": "line", "C": "block"}


def test_modes_follow_routing_and_eligibility(mini_plant: Plant) -> None:
    pb = build_problem(mini_plant, {"A": 20, "B": 10}, origin=MONDAY_6, lot_size=10)
    assert set(pb.modes["A"]) == {"L1"}  # A's routing is restricted to L1
    assert set(pb.modes["B"]) == {"L2", "C-1", "C-2"}
    # Flow line: the lot holds the line while its cars enter, one per bottleneck cycle (10 * 90); the last
    # car leaves after the rest of the flow time (60 + 45), so the first car is out after 60 + 90 + 45.
    mode = pb.modes["A"]["L1"]
    assert mode.duration(10) == 10 * 90 and mode.drain_s == 60 + 45
    assert mode.completion(1) == 60 + 90 + 45 and mode.completion(10) == 60 + 90 + 45 + 9 * 90
    # Cell: a car goes through its whole routing in the cell, carried in and out by the block's only AGV,
    # which takes the car out before it brings the next one in (30 s a trip, the simulation's default).
    assert pb.modes["B"]["C-1"].duration(10) == 10 * (70 + 90 + 50 + 2 * 30)
    # Energy above idle per car: sum over steps of (rated - idle) * cycle.
    assert pb.modes["A"]["L1"].extra_kwh(1) == pytest.approx((35 * 60 + 70 * 90 + 17 * 45) / 3600)
    assert pb.resources["L1"].run_kw == 140 and pb.resources["L1"].idle_kw == 18
    assert [lot.quantity for lot in pb.lots if lot.model == "A"] == [10, 10]


def test_calendar_windows_and_horizon(mini_plant: Plant) -> None:
    assert [(w.start, w.end) for w in shift_windows(mini_plant, MONDAY_6, 86400)] == [(0, 8 * 3600)]
    # Planned from 02:00 the day shift starts 4 h in.
    wins = shift_windows(mini_plant, MONDAY_6 - 4 * 3600, 86400)
    assert [(w.start, w.end) for w in wins] == [(4 * 3600, 12 * 3600)]
    demo = load_plant(DEMO_PLANT)
    # Back-to-back shifts stay separate windows (a line can be off in one of them).
    assert [(w.start, w.end, w.shift) for w in shift_windows(demo, MONDAY_6, 86400)] == [
        (0, 28800, "early"),
        (28800, 57600, "late"),
    ]


def test_faults_and_off_block_resources(mini_plant: Plant) -> None:
    status = [
        {"id": "L2-PAINT", "state": "Fault"},
        {"id": "C-1", "state": "Off"},
        {"id": "C-2", "state": "Off"},
        {"id": "L1-WELD", "state": "Running", "model": "A"},
    ]
    pb = build_problem(mini_plant, {"B": 10}, origin=MONDAY_6, status=status, idle_in_plan={"C-2"})
    assert pb.resources["L2"].windows == ()  # fault without MTTR: out for the horizon
    assert pb.resources["C-1"].windows == ()  # switched off by someone else
    assert pb.resources["C-2"].windows != ()  # off because the plan left it idle: usable
    assert pb.resources["L1"].initial_model == "A"
    assert set(pb.eligible(pb.lots[0])) == {"C-2"}


def test_fault_with_mttr_blocks_only_until_repair(mini_plant: Plant) -> None:
    plant = mini_plant.model_copy(deep=True)
    plant.lines[1].equipment[1].mttr_s = 1800
    pb = build_problem(
        plant, {"B": 10}, origin=MONDAY_6, now=600, status=[{"id": "L2-PAINT", "state": "Fault"}]
    )
    assert [(w.start, w.end) for w in pb.resources["L2"].windows] == [(2400, 28800)]


def test_frozen_lots_count_towards_demand(mini_plant: Plant) -> None:
    pb = build_problem(
        mini_plant, {"A": 25}, origin=MONDAY_6, now=100, lot_size=10, frozen=[("A-007", "A", 10, "L1", 0)]
    )
    frozen = [lot for lot in pb.lots if lot.fixed is not None]
    assert [(lot.id, lot.fixed and lot.fixed.resource) for lot in frozen] == [("A-007", "L1")]
    assert sorted(lot.quantity for lot in pb.lots if lot.fixed is None) == [5, 10]
    assert len({lot.id for lot in pb.lots}) == len(pb.lots)


def test_quantities_keep_old_lot_ids(mini_plant: Plant) -> None:
    pb = build_problem(
        mini_plant, {"B": 30}, origin=MONDAY_6, lot_size=10, quantities={"B": [("B-009", 10), ("B-004", 15)]}
    )
    assert [(lot.id, lot.quantity) for lot in pb.lots] == [("B-009", 10), ("B-004", 15), ("B-003", 5)]


@pytest.mark.parametrize(
    ("demand", "problem"),
    [({"Z": 5}, "unknown model 'Z'"), ({"A": -1}, "whole number >= 0"), ({"A": "x"}, "whole number >= 0")],
)
def test_bad_demand_is_refused(mini_plant: Plant, demand: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        build_problem(mini_plant, demand, origin=MONDAY_6)  # type: ignore[arg-type]


def test_lot_helpers_and_policies(mini_plant: Plant) -> None:
    assert split_lots(25, 10) == [10, 10, 5] and split_lots(0, 10) == []
    assert auto_lot_size({"A": 900, "B": 10}) == 115
    assert auto_lot_size({"A": 3}) == 1
    assert dedicated_policy(mini_plant, {"A": 5, "B": 7}) == {"L1": ["A"]}
    demo = load_plant(DEMO_PLANT)
    assert dedicated_policy(demo, demo.demand) == {"L1": ["EV-SUV"]}
    pb = build_problem(demo, {"EV-SEDAN": 10}, origin=MONDAY_6, allowed={"L1": ["EV-SUV"]})
    assert "L1" not in pb.modes["EV-SEDAN"]


def test_choose_origin_is_a_shift_start(mini_plant: Plant) -> None:
    assert choose_origin(mini_plant, MONDAY_6 + 3 * 3600 + 17) == MONDAY_6  # inside the day shift
    assert choose_origin(mini_plant, MONDAY_6 - 2 * 3600) == MONDAY_6  # before it: the next start
    assert choose_origin(mini_plant, MONDAY_6 + 10 * 3600) == MONDAY_6 + 86400


@pytest.mark.parametrize(
    ("plant_file", "resource", "model"),
    [
        ("demo", "C", "EV-SUV"),
        ("demo", "C", "HATCH"),
        ("demo", "L2", "HATCH"),
        ("mini", "C-1", "B"),
    ],
)
def test_scheduled_lot_takes_what_the_simulation_takes(
    mini_plant: Plant, plant_file: str, resource: str, model: str
) -> None:
    """A lot's duration in the problem is what the plant's flow simulation takes for it (no variance, no
    faults, the simulation's default AGV trips): cell blocks hold a cell while the AGV brings the car."""
    plant = load_plant(DEMO_PLANT) if plant_file == "demo" else mini_plant
    q = 115
    pb = build_problem(plant, {model: q}, origin=MONDAY_6, lot_size=q)
    scheduled = pb.modes[model][resource].completion(q)
    sim = FlowSim(plant, options=SimOptions(cycle_cv=0.0, faults=False))
    assert sim.options.agv_transfer_s == DEFAULT_AGV_TRANSFER_S
    lot = PlanAssignment(resource=resource, model=model, quantity=q, start_s=0.0, end_s=float(scheduled))
    sim.follow(Plan(demand={model: q}, assignments=[lot]))
    sim.env.run(until=3 * 86400)
    assert sim.completed == {model: q}
    assert scheduled == pytest.approx(sim.last_completion_s, rel=0.01)


@pytest.mark.parametrize("trip_s", [90.0, 150.0])
def test_slow_agvs_bound_the_cell_block(trip_s: float) -> None:
    """With long AGV trips the block's 3 AGVs, not its cells, set the pace (stages + 1 trips per car): the
    block model says so and stays within a few % of the simulation. It ignored the shared AGVs before and
    promised lots 14-57 % shorter than the simulation ran them."""
    plant = load_plant(DEMO_PLANT)
    q = 60
    for model in ("EV-SUV", "HATCH"):
        pb = build_problem(plant, {model: q}, origin=MONDAY_6, lot_size=q, agv_transfer_s=trip_s)
        scheduled = pb.modes[model]["C"].completion(q)
        sim = FlowSim(plant, options=SimOptions(cycle_cv=0.0, faults=False, agv_transfer_s=trip_s))
        lot = PlanAssignment(resource="C", model=model, quantity=q, start_s=0.0, end_s=float(scheduled))
        sim.follow(Plan(demand={model: q}, assignments=[lot]))
        sim.env.run(until=5 * 86400)
        assert sim.completed == {model: q}
        assert 0.93 * scheduled <= sim.last_completion_s <= 1.01 * scheduled, (model, scheduled)


def test_requested_lot_size_is_capped_to_fit_a_shift_with_a_note() -> None:
    """A lot bigger than a shift can hold is never schedulable: the lot size is capped (and says so), so a
    demand the plant can build is met."""
    demo = load_plant(DEMO_PLANT)
    pb = build_problem(demo, {"HATCH": 1000}, origin=MONDAY_6, lot_size=1000)
    eight_h = 8 * 3600
    for lot in pb.lots:  # every lot fits in one shift on every resource that builds HATCH
        assert all(pb.modes["HATCH"][r].duration(lot.quantity) <= eight_h for r in ("L2", "C"))
    assert len(pb.notes) == 1 and "HATCH: lot size 1000 capped to" in pb.notes[0]
    assert pb.describe()["notes"] == pb.notes
    result = solve_plant(pb, time_limit_s=2.0)
    assert evaluate(pb, result.schedule).unmet_cars == 0
    # A lot size that fits is left alone.
    assert build_problem(demo, {"HATCH": 1000}, origin=MONDAY_6, lot_size=100).notes == []


@pytest.mark.timeout(120)
def test_big_demand_keeps_every_eligible_resource_busy() -> None:
    """QA: HATCH 5000 on the demo plant (beyond capacity) made automatic lots longer than any shift; the
    cell block stood 73 % busy while thousands of cars were unmet. Now the lots fit, and the resources that
    can build HATCH (L2, the cell block) are busy most of their shifts."""
    demo = load_plant(DEMO_PLANT)
    demand = {**demo.demand, "HATCH": 5000}
    pb = build_problem(demo, demand, origin=MONDAY_6)
    assert any(n.startswith("HATCH: lot size 625 (automatic) capped") for n in pb.notes)
    result = solve_plant(pb, time_limit_s=3.0)
    score = evaluate(pb, result.schedule)
    built = sum(s.quantity for s in result.schedule)
    assert score.unmet_cars == sum(demand.values()) - built
    shift_s = sum(w.length for w in shift_windows(demo, MONDAY_6, pb.horizon))
    # The cell block (HATCH takt 79 s) is the slowest builder: lots are capped to what fits one of its
    # shifts (296 cars), so L2 (HATCH takt 55 s) fits one such lot per 8 h shift and is ~59 % busy; lots
    # sized per resource would fill it (a known limit of the lot cap, reported with the demo plant change).
    for rid, floor in (("L2", 0.55), ("C", 0.75)):
        busy = sum(s.end - s.start for s in result.schedule if s.resource == rid)
        assert busy / shift_s > floor, rid
