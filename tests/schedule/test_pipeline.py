"""Flow lines pipeline: a lot holds its line only while its cars enter, the next lot follows right behind
(after the changeover, set up while each station waits for the new model), and the last car leaves one
fill time later. The scheduler's lot times and the SimPy flow model agree on lines of real length."""

from __future__ import annotations

import pytest

from twin.config import plant_from_data
from twin.generate import generate_plant
from twin.model import STANDARD_TAGS, Plan, PlanAssignment
from twin.schedule.plant.build import build_problem
from twin.schedule.plant.model.costs import last_entry_end
from twin.schedule.plant.problem import Window
from twin.sim import FlowSim, SimOptions

MONDAY_6 = 1767592800.0


@pytest.mark.parametrize("stations", [15, 50, 300])
@pytest.mark.parametrize("models", [("M1", "M1"), ("M1", "M2")])
def test_consecutive_lots_pipeline_as_in_the_simulation(stations: int, models: tuple[str, str]) -> None:
    plant = plant_from_data(generate_plant(1, stations, len(STANDARD_TAGS), models=2, seed=1))
    q = 100
    pb = build_problem(plant, {"M1": 2 * q, "M2": q}, origin=MONDAY_6, lot_size=q)
    a, b = (pb.modes[m]["L01"] for m in models)
    second = a.duration(q) + pb.changeover_s(*models)
    lots = [
        PlanAssignment(resource="L01", model=models[0], quantity=q, start_s=0.0, end_s=float(a.duration(q))),
        PlanAssignment(
            resource="L01", model=models[1], quantity=q, start_s=float(second),
            end_s=float(second + b.duration(q)),
        ),
    ]  # fmt: skip
    sim = FlowSim(plant, options=SimOptions(cycle_cv=0.0, faults=False))
    sim.follow(Plan(demand={"M1": 2 * q}, assignments=lots))
    sim.env.run(until=5 * 86400)
    assert sum(sim.completed.values()) == 2 * q
    planned = second + b.completion(q)
    assert sim.last_completion_s == pytest.approx(planned, rel=0.02)
    # Pipelined, not one fill per lot: two separate fills would take a fill time longer.
    assert planned < a.completion(q) + pb.changeover_s(*models) + b.completion(q)


def test_a_flow_lot_holds_the_line_for_its_entries_only() -> None:
    plant = plant_from_data(generate_plant(1, 50, len(STANDARD_TAGS), models=1, seed=2))
    mode = build_problem(plant, {"M1": 10}, origin=MONDAY_6, lot_size=10).modes["M1"]["L01"]
    assert mode.pipelined and mode.duration(10) == pytest.approx(10 * mode.per_car_s, abs=1)
    assert mode.completion(1) == pytest.approx(mode.setup_s + mode.per_car_s, abs=1)
    assert mode.drain_s > 30 * 40  # 50 stations of 40-89 s: the fill is most of an hour


def test_the_last_car_must_leave_within_the_working_time() -> None:
    wins = (Window(0, 100), Window(200, 300))
    assert last_entry_end(wins, 30) == 270  # 30 s of work after it, in the last window
    assert last_entry_end(wins, 150) == 50  # the drain spans the pause between the windows
    assert last_entry_end(wins, 0) == 300
    assert last_entry_end(wins, 250) == -1  # more than all the working time
